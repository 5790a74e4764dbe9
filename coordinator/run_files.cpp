#include "coordinator/run_files.h"

#include <cstring>
#include <filesystem>

#include "common/data_config.h"
#include "common/dataset.h"
#include "common/image_folder.h"

namespace qtune {

std::string run_file_key(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path abs = std::filesystem::absolute(path, ec);
  return (ec ? std::filesystem::path(path) : abs).lexically_normal().string();
}

Result<std::vector<RunFile>> run_files(const TuningConfig& cfg, const std::string& stats_path,
                                       const std::string& pack_dir) {
  std::vector<RunFile> out;
  // `path` is what the YAMLs name; `source` the file served in its place, when packed.
  auto add = [&](const std::string& role, const std::string& path,
                 const std::string& source = "") -> Status {
    if (path.empty()) return Status::Ok();
    const std::string& file = source.empty() ? path : source;
    QT_ASSIGN_OR_RETURN(std::string hash, file_hash(file));
    std::error_code ec;
    const auto size = std::filesystem::file_size(file, ec);
    if (ec) return Status::InvalidInput(file + ": " + ec.message());
    out.push_back(RunFile{role, run_file_key(path), hash, static_cast<int64_t>(size), source});
    return Status::Ok();
  };
  QT_RETURN_IF_ERROR(add("config", cfg.source_path));
  QT_RETURN_IF_ERROR(add("model", cfg.model));
  QT_RETURN_IF_ERROR(add("calib_data", cfg.calibration_data));
  QT_RETURN_IF_ERROR(add("eval_data", cfg.evaluation_data));
  QT_ASSIGN_OR_RETURN(DataConfig eval, load_data_config(cfg.evaluation_data));
  std::vector<std::string> first_files;  // of the first image folder, for a labels text file
  bool packed_images = false;
  for (size_t i = 0; i < eval.dataset.inputs.size(); ++i) {
    const DataInput& in = eval.dataset.inputs[i];
    std::error_code ec;
    if (eval.dataset.format_of(in) != "images" || !std::filesystem::is_directory(in.path, ec)) {
      QT_RETURN_IF_ERROR(add("eval_input", in.path));
      continue;
    }
    std::vector<std::string> files;
    QT_ASSIGN_OR_RETURN(RawArray pixels, read_image_folder(in.path, eval.dataset.recursive,
                                                           eval.preprocess, &files));
    std::filesystem::create_directories(pack_dir, ec);
    if (ec) return Status::InvalidInput(pack_dir + ": " + ec.message());
    const std::string packed =
        (std::filesystem::path(pack_dir) / ("eval_input_" + std::to_string(i) + ".npy")).string();
    Tensor t(DType::kU8, pixels.shape);
    std::memcpy(t.raw(), pixels.data(), t.nbytes());
    QT_RETURN_IF_ERROR(write_npy_file(t, packed));
    QT_RETURN_IF_ERROR(add("eval_input", in.path, packed));
    if (!packed_images) first_files = std::move(files);
    packed_images = true;
  }
  std::string labels_source;
  if (packed_images && !eval.dataset.labels.empty() && eval.dataset.format == "images") {
    // A text file names the folder's files, which the packed pixels no longer list.
    Result<RawArray> as_npy = read_npy_file(eval.dataset.labels);
    if (!as_npy.ok()) {
      QT_ASSIGN_OR_RETURN(std::vector<int64_t> labels,
                          read_image_labels(eval.dataset.labels, first_files));
      labels_source = (std::filesystem::path(pack_dir) / "eval_labels.npy").string();
      QT_RETURN_IF_ERROR(write_npy_file(
          Tensor::from_i64({static_cast<int64_t>(labels.size())}, labels), labels_source));
    }
  }
  QT_RETURN_IF_ERROR(add("eval_labels", eval.dataset.labels, labels_source));
  QT_RETURN_IF_ERROR(add("stats", stats_path));
  return out;
}

}  // namespace qtune
