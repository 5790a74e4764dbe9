#include "worker/curve.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/file_writer.h"

namespace qtune {
namespace {

Status write_new(const std::string& path, const std::string& text, mode_t mode) {
  FileOps& ops = file_ops();
  const int fd = ops.open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return Status::InvalidInput(path + (errno == EEXIST ? ": exists; not overwriting a key" : ": cannot create"));
  }
  fchmod(fd, mode);  // umask may have narrowed it further; never widened beyond `mode`
  Status s = write_fully(fd, text.data(), text.size(), path);
  if (s.ok() && ops.fsync(fd) != 0) s = Status::InvalidInput(path + ": fsync failed");
  ops.close(fd);
  if (!s.ok()) {
    ::unlink(path.c_str());  // a half-written key is worse than none
    return s;
  }
  return sync_parent_dir(path);
}

}  // namespace

Result<CurveKeypair> generate_curve_keypair() {
  char pub[kZ85KeyChars + 1] = {0}, sec[kZ85KeyChars + 1] = {0};
  if (zmq_curve_keypair(pub, sec) != 0) {
    return Status::Internal(std::string("zmq_curve_keypair: ") + zmq_strerror(zmq_errno()) +
                            " (libzmq built without CURVE?)");
  }
  return CurveKeypair{pub, sec};
}

Status write_curve_keypair(const CurveKeypair& k, const std::string& prefix) {
  QT_RETURN_IF_ERROR(write_new(prefix + ".key", k.secret_z85 + "\n", 0600));
  return write_new(prefix + ".pub", k.public_z85 + "\n", 0644);
}

std::string curve_key_bytes(const std::string& z85) {
  if (z85.size() != kZ85KeyChars) return "";
  uint8_t raw[32];
  if (zmq_z85_decode(raw, z85.c_str()) == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(raw), sizeof raw);
}

std::string curve_key_z85(const std::string& bytes) {
  if (bytes.size() != 32) return "";
  char out[kZ85KeyChars + 1] = {0};
  if (zmq_z85_encode(out, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()) == nullptr) return "";
  return out;
}

Result<std::string> read_curve_key(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::InvalidInput(path + ": cannot read key file");
  std::string text(4096, '\0');
  f.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(f.gcount()));
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  size_t start = 0;
  while (start < text.size() && std::isspace(static_cast<unsigned char>(text[start]))) ++start;
  text = text.substr(start);
  if (text.size() != kZ85KeyChars || curve_key_bytes(text).empty()) {
    return Status::InvalidInput(path + ":1: expected one 40-character Z85 CURVE key (see qtune keygen)");
  }
  return text;
}

Result<std::string> curve_public_key(const std::string& secret_z85) {
  char pub[kZ85KeyChars + 1] = {0};
  if (zmq_curve_public(pub, secret_z85.c_str()) != 0) return Status::InvalidInput("not a Z85 CURVE secret key");
  return std::string(pub);
}

Result<std::vector<std::string>> read_curve_allow_list(const std::string& spec) {
  std::vector<std::string> keys;
  std::stringstream ss(spec);
  for (std::string item; std::getline(ss, item, ',');) {
    if (item.empty()) continue;
    std::error_code ec;
    if (std::filesystem::is_directory(item, ec)) {
      std::vector<std::string> files;
      for (const auto& e : std::filesystem::directory_iterator(item, ec)) {
        if (e.path().extension() == ".pub") files.push_back(e.path().string());
      }
      if (ec) return Status::InvalidInput(item + ": cannot list: " + ec.message());
      if (files.empty()) return Status::InvalidInput(item + ": holds no *.pub key file");
      std::sort(files.begin(), files.end());
      for (const auto& f : files) {
        QT_ASSIGN_OR_RETURN(std::string k, read_curve_key(f));
        keys.push_back(k);
      }
    } else {
      QT_ASSIGN_OR_RETURN(std::string k, read_curve_key(item));
      keys.push_back(k);
    }
  }
  if (keys.empty()) return Status::InvalidInput("--curve-allow: no key file given");
  return keys;
}

}  // namespace qtune
