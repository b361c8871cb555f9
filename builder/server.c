#include "builder.h"
int bld_serve_main(int argc, char **argv) { return 2; }
