// Entry points of the qtune subcommands; each returns the process exit code.
// Called only from cli/main.cpp.
#pragma once

#include <string>

#include "cli/args.h"

namespace qtune::cli {

int cmd_eval(int argc, char** argv);
int cmd_conformance(int argc, char** argv);
int cmd_version(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_caps(int argc, char** argv);
int cmd_ops(int argc, char** argv);
int cmd_run(int argc, char** argv);
int cmd_check(int argc, char** argv);
int cmd_quantize(int argc, char** argv);
int cmd_tune(int argc, char** argv);
int cmd_worker(int argc, char** argv);
int cmd_coordinator(int argc, char** argv);
int cmd_report(int argc, char** argv);
int cmd_send_frame(int argc, char** argv);  // hidden: a bad frame for protocol tests
int cmd_keygen(int argc, char** argv);
int cmd_bench_dispatch(int argc, char** argv);  // `qtune bench dispatch`
int cmd_bench_model(int argc, char** argv);     // `qtune bench model`
int cmd_health(int argc, char** argv);          // container health probe

// The options of `qtune worker`; `qtune tune --workers N` keeps their environment variables
// from its children, whose command line it sets.
const OptionSpec& worker_option_spec();

}  // namespace qtune::cli
