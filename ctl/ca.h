// The cluster's certificate authority (`fsctl ca init|issue`), with the
// OpenSSL library: one CA per cluster, one certificate per process, whose
// subject says the process's name (CN) and role (OU: metad, datad, client,
// admin; thrift/tls.h). Keys are EC P-256, signatures SHA-256.
//
// Files in DIR: ca.crt (0644) and ca.key (0600, the CA's private key: keep
// it off the servers once the certificates are issued); NAME.crt (0644) and
// NAME.key (0600) for every certificate issued. DIR is created with 0700.
// Nothing is ever overwritten.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/status.h"

namespace replfs::ctl {

inline constexpr int kCaDays = 3650;    // the CA: 10 years
inline constexpr int kCertDays = 825;   // a process certificate: ~27 months

// Creates DIR/ca.key and DIR/ca.crt. Exists if ca.key is already there.
Status InitCa(const std::string& dir, std::string* summary);

struct CertRequest {
  std::string dir;                 // where ca.crt/ca.key are
  std::string name;                // CN, and the file names NAME.crt/.key
  std::string role;                // metad, datad, client or admin
  std::vector<std::string> hosts;  // subjectAltName: IP addresses and DNS names
  // Validity, relative to now (tests make expired certificates with these).
  std::chrono::seconds valid_from{-300};  // a little in the past: clock skew
  std::chrono::seconds valid_for{std::chrono::hours(24) * kCertDays};
};

// Issues DIR/NAME.crt and DIR/NAME.key, signed by the CA in DIR. Invalid for
// a bad name or role; Exists if either file is there already.
Status IssueCert(const CertRequest& req, std::string* summary);

}  // namespace replfs::ctl
