// SPDX-License-Identifier: GPL-2.0
#include "bridge/io_thread.h"

#include <pthread.h>

#include <exception>
#include <system_error>

namespace avm {
namespace {

void run_body(const std::string& name, const IoThread::Body& body,
              const IoThread::OnFailure& on_failure) {
  ::pthread_setname_np(::pthread_self(), name.c_str());
  Status st;
  try {
    st = body();
  } catch (const std::exception& e) {
    st = make_error(EFAULT, name + ": exception: " + e.what());
  } catch (...) {
    st = make_error(EFAULT, name + ": unknown exception");
  }
  if (!st && on_failure) {
    on_failure(st.error());
  }
}

}  // namespace

Result<IoThread> IoThread::start(std::string name, Body body, OnFailure on_failure) {
  if (name.size() > kMaxName) {
    name.resize(kMaxName);
  }
  IoThread t;
  try {
    t.thread_ = std::thread(run_body, std::move(name), std::move(body), std::move(on_failure));
  } catch (const std::system_error& e) {
    return make_error(EAGAIN, std::string("cannot start I/O thread: ") + e.what());
  }
  return t;
}

std::string current_thread_name() {
  char buf[32] = {};
  ::pthread_getname_np(::pthread_self(), buf, sizeof buf);
  return buf;
}

}  // namespace avm
