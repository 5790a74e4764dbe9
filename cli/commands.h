// Entry points of the qtune subcommands; each returns the process exit code.
// Called only from cli/main.cpp.
#pragma once

namespace qtune::cli {

int cmd_eval(int argc, char** argv);
int cmd_conformance(int argc, char** argv);
int cmd_version(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_caps(int argc, char** argv);
int cmd_quantize(int argc, char** argv);
int cmd_tune(int argc, char** argv);
int cmd_worker(int argc, char** argv);
int cmd_coordinator(int argc, char** argv);
int cmd_send_frame(int argc, char** argv);  // hidden: a bad frame for protocol tests

}  // namespace qtune::cli
