// The files a tuning run reads, as CONFIG lists them for workers to fetch by content hash: the
// tuning YAML, the model, both data YAMLs, the evaluation set's input files and labels, and the
// calibration statistics file. Workers evaluate but never calibrate, so the calibration images
// are not among them. An evaluation image folder goes out as one packed file: its decoded,
// resized and cropped pixels (a u8 [N,H,W,C] .npy that load_dataset reads in the folder's
// place), with a labels text file packed to .npy beside it. Reads the files to hash them and
// writes the packed ones; no other state.
#pragma once

#include <string>
#include <vector>

#include "common/protocol.h"
#include "common/tuning_config.h"

namespace qtune {

// Paths are absolute and normalized, the form a worker gets by resolving the YAMLs' paths
// against the tuning YAML's absolute path. Packed files are written to `pack_dir`. kInvalidInput
// naming a file that cannot be read.
Result<std::vector<RunFile>> run_files(const TuningConfig& cfg, const std::string& stats_path,
                                       const std::string& pack_dir);

// The key a path goes by in CONFIG's file list.
std::string run_file_key(const std::string& path);

}  // namespace qtune
