// Status and Result<T>: how modules report failure to each other without exceptions.
// Codes map one-to-one onto the CLI exit codes (bad input = 2, internal = 3).
// Value types; safe to copy across threads.
#pragma once

#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace qtune {

enum class StatusCode {
  kOk = 0,
  kInvalidInput,   // malformed model, YAML, dataset or message: exit 2
  kUnsupported,    // well-formed but uses something qtune does not implement: exit 2
  kInternal,       // a bug or an environment failure: exit 3
};

class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidInput(std::string m) { return {StatusCode::kInvalidInput, std::move(m)}; }
  static Status Unsupported(std::string m) { return {StatusCode::kUnsupported, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prefixes context ("while loading x.onnx: ...") so errors name the place they came from.
  Status Annotate(const std::string& where) const {
    return ok() ? *this : Status(code_, where + ": " + message_);
  }

  int exit_code() const {
    switch (code_) {
      case StatusCode::kOk: return 0;
      case StatusCode::kInvalidInput:
      case StatusCode::kUnsupported: return 2;
      case StatusCode::kInternal: return 3;
    }
    return 3;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}                 // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {           // NOLINT: implicit by design
    if (std::get<Status>(v_).ok()) v_ = Status::Internal("Result built from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace qtune

// Early-return helpers; keep call sites flat.
#define QT_CONCAT_INNER(a, b) a##b
#define QT_CONCAT(a, b) QT_CONCAT_INNER(a, b)
#define QT_RETURN_IF_ERROR(expr)                  \
  do {                                            \
    ::qtune::Status qt_status_ = (expr);          \
    if (!qt_status_.ok()) return qt_status_;      \
  } while (0)
#define QT_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
#define QT_ASSIGN_OR_RETURN(lhs, expr) \
  QT_ASSIGN_OR_RETURN_IMPL(QT_CONCAT(qt_result_, __LINE__), lhs, expr)
