// coloctl: the operator's CLI. Flag parsing and dispatch only; the commands live in colo_cli.
#include <iostream>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "cli/real_env.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  colo::cli::CliEnv env = colo::cli::makeRealEnv();
  colo::cli::CliContext ctx;
  ctx.out = &std::cout;
  ctx.err = &std::cerr;
  ctx.env = &env;
  return colo::cli::runCli(args, colo::cli::coloctlCommands(), ctx);
}
