// SPDX-License-Identifier: GPL-2.0
// avmctl: the command-line client of alacrityvmd (docs/control-api.md).
#include <iostream>

#include "avmctl/cli.h"

int main(int argc, char** argv) {
  return avm::avmctl::run(argc, argv, std::cout, std::cerr);
}
