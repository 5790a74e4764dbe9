#include "coordinator/run_files.h"

#include <filesystem>

#include "common/data_config.h"

namespace qtune {

std::string run_file_key(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path abs = std::filesystem::absolute(path, ec);
  return (ec ? std::filesystem::path(path) : abs).lexically_normal().string();
}

Result<std::vector<RunFile>> run_files(const TuningConfig& cfg, const std::string& stats_path) {
  std::vector<RunFile> out;
  auto add = [&](const std::string& role, const std::string& path) -> Status {
    if (path.empty()) return Status::Ok();
    QT_ASSIGN_OR_RETURN(std::string hash, file_hash(path));
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) return Status::InvalidInput(path + ": " + ec.message());
    out.push_back(RunFile{role, run_file_key(path), hash, static_cast<int64_t>(size)});
    return Status::Ok();
  };
  QT_RETURN_IF_ERROR(add("config", cfg.source_path));
  QT_RETURN_IF_ERROR(add("model", cfg.model));
  QT_RETURN_IF_ERROR(add("calib_data", cfg.calibration_data));
  QT_RETURN_IF_ERROR(add("eval_data", cfg.evaluation_data));
  QT_ASSIGN_OR_RETURN(DataConfig eval, load_data_config(cfg.evaluation_data));
  for (const DataInput& in : eval.dataset.inputs) QT_RETURN_IF_ERROR(add("eval_input", in.path));
  QT_RETURN_IF_ERROR(add("eval_labels", eval.dataset.labels));
  QT_RETURN_IF_ERROR(add("stats", stats_path));
  return out;
}

}  // namespace qtune
