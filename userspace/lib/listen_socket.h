// SPDX-License-Identifier: GPL-2.0
// A listening UNIX socket (stream, or seqpacket for the hand-over) bound to
// a path, created with a given mode, that removes its own socket file (and
// only its own) when it goes away.
#pragma once

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <string>

#include "lib/error.h"
#include "lib/unique_fd.h"

namespace avm {

struct ListenOptions {
  int type = SOCK_STREAM;  // or SOCK_SEQPACKET
  // Replace a socket file somebody still listens on (the hand-over socket:
  // a successor binds its own before its predecessor has closed the old).
  bool replace_live = false;
};

class ListenSocket {
 public:
  ListenSocket() = default;
  ~ListenSocket() { close(); }
  ListenSocket(ListenSocket&& other) noexcept;
  ListenSocket& operator=(ListenSocket&& other) noexcept;
  ListenSocket(const ListenSocket&) = delete;
  ListenSocket& operator=(const ListenSocket&) = delete;

  // Binds and listens on @path (non-blocking, close-on-exec).  The socket
  // file never has more permissions than @mode (it is fchmod'ed before
  // bind and chmod'ed to exactly @mode after).  A stale socket file (one
  // nobody listens on any more) is replaced; a live one is EADDRINUSE and
  // anything that is not a socket is EEXIST: neither is touched.
  static Result<ListenSocket> create(const std::string& path, mode_t mode, int backlog,
                                     const ListenOptions& options = {});

  // Hand-over: a listening socket received from the process that created
  // it (fd checked to be a listening UNIX stream socket, made
  // non-blocking).  The file at @path is ours to remove later only if it
  // is still the one that process created (@dev/@ino); otherwise it is
  // left alone.
  static Result<ListenSocket> adopt(UniqueFd fd, const std::string& path, dev_t dev, ino_t ino);

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  dev_t dev() const { return dev_; }
  ino_t ino() const { return ino_; }

  // Closes the socket and unlinks its file if the file is still the one
  // this object created (not a successor's).
  void close();
  // Gives up the socket file (close() leaves it) and hands out our fd: to
  // close it while another process serves the file, or to own both.
  UniqueFd release() {
    path_.clear();
    return std::move(fd_);
  }

 private:
  UniqueFd fd_;
  std::string path_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

}  // namespace avm
