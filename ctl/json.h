// How fsctl writes JSON.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace replfs::ctl {

// j.dump(indent), except that strings which are not valid UTF-8 (file names
// are bytes, and so may be server addresses typed by someone) get U+FFFD in
// place of each bad byte instead of aborting the output with type_error.316.
// Every JSON fsctl prints goes through here.
inline std::string DumpJson(const nlohmann::json &j, int indent = -1) {
  return j.dump(indent, ' ', /*ensure_ascii=*/false,
                nlohmann::json::error_handler_t::replace);
}

} // namespace replfs::ctl
