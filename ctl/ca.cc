#include "ctl/ca.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "thrift/tls.h"

namespace replfs::ctl {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(FILE* f) const { fclose(f); }
};
using Key = std::unique_ptr<EVP_PKEY, Free>;
using Cert = std::unique_ptr<X509, Free>;
using File = std::unique_ptr<FILE, Free>;

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

// A new file of `mode`, never replacing one (O_EXCL).
Status CreateFile(const std::string& path, mode_t mode, File* out) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST) return Status::Exists(path + " exists already; not replaced");
    return Status::IOError("cannot create " + path + ": " + std::strerror(errno));
  }
  fchmod(fd, mode);  // whatever the umask
  out->reset(fdopen(fd, "w"));
  if (!*out) {
    close(fd);
    return Status::IOError("fdopen " + path + ": " + std::strerror(errno));
  }
  return Status::OK();
}

Status WriteKey(const std::string& path, EVP_PKEY* key) {
  File f;
  REPLFS_RETURN_IF_ERROR(CreateFile(path, 0600, &f));
  if (PEM_write_PrivateKey(f.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return Status::IOError("writing " + path + ": " + net::OpenSslError());
  if (fflush(f.get()) != 0 || fsync(fileno(f.get())) != 0)
    return Status::IOError("writing " + path + ": " + std::strerror(errno));
  return Status::OK();
}

Status WriteCert(const std::string& path, X509* cert) {
  File f;
  REPLFS_RETURN_IF_ERROR(CreateFile(path, 0644, &f));
  if (PEM_write_X509(f.get(), cert) != 1) return Status::IOError("writing " + path + ": " + net::OpenSslError());
  if (fflush(f.get()) != 0 || fsync(fileno(f.get())) != 0)
    return Status::IOError("writing " + path + ": " + std::strerror(errno));
  return Status::OK();
}

Status NewKey(Key* out) {
  out->reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!*out) return Status::Internal("cannot generate an EC P-256 key: " + net::OpenSslError());
  return Status::OK();
}

Status AddName(X509_NAME* n, const char* field, const std::string& value) {
  if (X509_NAME_add_entry_by_txt(n, field, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(value.c_str()),
                                 -1, -1, 0) != 1)
    return Status::Invalid(std::string("bad certificate ") + field + " '" + value + "': " + net::OpenSslError());
  return Status::OK();
}

Status AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return Status::Invalid("bad certificate extension '" + value + "': " + net::OpenSslError());
  const int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok == 1 ? Status::OK() : Status::Internal("cannot add extension: " + net::OpenSslError());
}

// An unsigned certificate for `key` with `subject` fields, valid
// [now+from, +for), issued by `issuer` (itself when null).
Status Build(EVP_PKEY* key, const std::vector<std::pair<const char*, std::string>>& subject, X509* issuer,
             long from_s, long for_s, Cert* out) {
  Cert c(X509_new());
  if (!c) return Status::Internal("X509_new: " + net::OpenSslError());
  X509_set_version(c.get(), 2);
  std::unique_ptr<BIGNUM, Free> serial(BN_new());
  if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(c.get())) == nullptr)
    return Status::Internal("serial number: " + net::OpenSslError());
  X509_gmtime_adj(X509_getm_notBefore(c.get()), from_s);
  X509_gmtime_adj(X509_getm_notAfter(c.get()), from_s + for_s);
  X509_NAME* name = X509_get_subject_name(c.get());
  for (const auto& [field, value] : subject) REPLFS_RETURN_IF_ERROR(AddName(name, field, value));
  X509_set_issuer_name(c.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509_set_pubkey(c.get(), key);
  *out = std::move(c);
  return Status::OK();
}

Status Sign(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) == 0) return Status::Internal("signing: " + net::OpenSslError());
  return Status::OK();
}

Status LoadCa(const std::string& dir, Cert* cert, Key* key) {
  const std::string crt = dir + "/ca.crt", k = dir + "/ca.key";
  File f(fopen(crt.c_str(), "r"));
  if (!f) return Status::NotFound("no CA in " + dir + " (" + crt + ": " + std::strerror(errno) + "): run fsctl ca init");
  cert->reset(PEM_read_X509(f.get(), nullptr, nullptr, nullptr));
  if (!*cert) return Status::Invalid(crt + " is not a PEM certificate: " + net::OpenSslError());
  File g(fopen(k.c_str(), "r"));
  if (!g) return Status::NotFound("cannot read the CA key " + k + ": " + std::strerror(errno));
  key->reset(PEM_read_PrivateKey(g.get(), nullptr, nullptr, nullptr));
  if (!*key) return Status::Invalid(k + " is not a PEM private key: " + net::OpenSslError());
  if (X509_check_private_key(cert->get(), key->get()) != 1)
    return Status::Invalid(k + " does not belong to " + crt);
  return Status::OK();
}

Status MakeDir(const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return Status::IOError("cannot create " + dir + ": " + std::strerror(errno));
  return Status::OK();
}

bool ValidName(const std::string& n) {
  if (n.empty() || n.size() > 64 || n[0] == '.' || n == "ca") return false;
  for (char c : n)
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_')) return false;
  return true;
}

}  // namespace

Status InitCa(const std::string& dir, std::string* summary) {
  REPLFS_RETURN_IF_ERROR(MakeDir(dir));
  const std::string crt = dir + "/ca.crt", k = dir + "/ca.key";
  if (Exists(k) || Exists(crt)) return Status::Exists("a CA exists in " + dir + " already; not replaced");
  Key key;
  REPLFS_RETURN_IF_ERROR(NewKey(&key));
  unsigned char rnd[4];
  if (RAND_bytes(rnd, sizeof rnd) != 1) return Status::Internal("RAND_bytes: " + net::OpenSslError());
  char id[9];
  std::snprintf(id, sizeof id, "%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
  Cert cert;
  REPLFS_RETURN_IF_ERROR(Build(key.get(), {{"O", "replfs"}, {"CN", std::string("replfs cluster CA ") + id}},
                               nullptr, -300, 24L * 3600 * kCaDays, &cert));
  REPLFS_RETURN_IF_ERROR(AddExt(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
  REPLFS_RETURN_IF_ERROR(AddExt(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign"));
  REPLFS_RETURN_IF_ERROR(AddExt(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  REPLFS_RETURN_IF_ERROR(Sign(cert.get(), key.get()));
  REPLFS_RETURN_IF_ERROR(WriteKey(k, key.get()));
  REPLFS_RETURN_IF_ERROR(WriteCert(crt, cert.get()));
  *summary = "created the cluster CA \"replfs cluster CA " + std::string(id) + "\" (valid " +
             std::to_string(kCaDays) + " days): " + crt + ", key " + k + " (0600: keep it safe)";
  return Status::OK();
}

Status IssueCert(const CertRequest& req, std::string* summary) {
  if (!ValidName(req.name))
    return Status::Invalid("certificate name '" + req.name + "' must be 1-64 characters of [A-Za-z0-9._-]");
  if (req.role != "metad" && req.role != "datad" && req.role != "client" && req.role != "admin")
    return Status::Invalid("role '" + req.role + "' is not metad, datad, client or admin");
  Cert ca;
  Key ca_key;
  REPLFS_RETURN_IF_ERROR(LoadCa(req.dir, &ca, &ca_key));
  const std::string crt = req.dir + "/" + req.name + ".crt", k = req.dir + "/" + req.name + ".key";
  if (Exists(crt) || Exists(k)) return Status::Exists(crt + " or " + k + " exists already; not replaced");
  std::string san;
  for (const std::string& h : req.hosts) {
    unsigned char buf[16];
    const bool ip = inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
    if (h.empty() || h.find(',') != std::string::npos) return Status::Invalid("bad --host '" + h + "'");
    san += (san.empty() ? "" : ",") + std::string(ip ? "IP:" : "DNS:") + h;
  }
  Key key;
  REPLFS_RETURN_IF_ERROR(NewKey(&key));
  Cert cert;
  REPLFS_RETURN_IF_ERROR(Build(key.get(), {{"O", "replfs"}, {"OU", req.role}, {"CN", req.name}}, ca.get(),
                               static_cast<long>(req.valid_from.count()),
                               static_cast<long>(req.valid_for.count()), &cert));
  REPLFS_RETURN_IF_ERROR(AddExt(cert.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE"));
  REPLFS_RETURN_IF_ERROR(AddExt(cert.get(), ca.get(), NID_key_usage, "critical,digitalSignature,keyAgreement"));
  REPLFS_RETURN_IF_ERROR(AddExt(cert.get(), ca.get(), NID_ext_key_usage, "serverAuth,clientAuth"));
  REPLFS_RETURN_IF_ERROR(AddExt(cert.get(), ca.get(), NID_subject_key_identifier, "hash"));
  REPLFS_RETURN_IF_ERROR(AddExt(cert.get(), ca.get(), NID_authority_key_identifier, "keyid"));
  if (!san.empty()) REPLFS_RETURN_IF_ERROR(AddExt(cert.get(), ca.get(), NID_subject_alt_name, san));
  REPLFS_RETURN_IF_ERROR(Sign(cert.get(), ca_key.get()));
  REPLFS_RETURN_IF_ERROR(WriteKey(k, key.get()));
  REPLFS_RETURN_IF_ERROR(WriteCert(crt, cert.get()));
  *summary = "issued " + crt + " (role " + req.role + ", valid " +
             std::to_string(req.valid_for.count() / 86400) + " days" + (san.empty() ? "" : ", " + san) +
             ") and its key " + k + " (0600)";
  return Status::OK();
}

}  // namespace replfs::ctl
