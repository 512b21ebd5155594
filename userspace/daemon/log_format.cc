// SPDX-License-Identifier: GPL-2.0
#include "daemon/log_format.h"

#include <fmt/format.h>
#include <spdlog/pattern_formatter.h>

#include "daemon/names.h"

namespace avm {

namespace {

// %v, the message, escaped.
class EscapedMessage : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm& /*tm*/,
              spdlog::memory_buf_t& dest) override {
    const std::string text =
        escape_for_log(std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<EscapedMessage>();
  }
};

}  // namespace

std::string escape_for_log(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t n = printable_char_length(s.substr(i));
    if (n == 0) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(s[i]));
      i++;
    } else if (s[i] == '\\') {
      out += "\\\\";
      i++;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::unique_ptr<spdlog::formatter> escaping_log_formatter() {
  auto f = std::make_unique<spdlog::pattern_formatter>();
  // Custom flags come before the built-in ones: this 'v' replaces spdlog's.
  f->add_flag<EscapedMessage>('v').set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%n] [%^%l%$] %v");
  return f;
}

}  // namespace avm
