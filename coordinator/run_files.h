// The files a tuning run reads, as CONFIG lists them for workers to fetch by content hash: the
// tuning YAML, the model, both data YAMLs, the evaluation set's input files and labels, and the
// calibration statistics file. Workers evaluate but never calibrate, so the calibration images
// are not among them. Reads the files to hash them; no other state.
#pragma once

#include <string>
#include <vector>

#include "common/protocol.h"
#include "common/tuning_config.h"

namespace qtune {

// Paths are absolute and normalized, the form a worker gets by resolving the YAMLs' paths
// against the tuning YAML's absolute path. kInvalidInput naming a file that cannot be read.
Result<std::vector<RunFile>> run_files(const TuningConfig& cfg, const std::string& stats_path);

// The key a path goes by in CONFIG's file list.
std::string run_file_key(const std::string& path);

}  // namespace qtune
