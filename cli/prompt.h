/* Config prompts from a connector's spec (cli/prompt.c). */
#ifndef SLUICE_CLI_PROMPT_H
#define SLUICE_CLI_PROMPT_H

#include <stdio.h>

#include "sluice/json.h"

/* Ask on in/out for every field of the spec's connectionSpecification not
 * already in config (values from --set stay), setting them in config. */
sl_code cli_prompt_config(const json_t *spec, json_t *config, FILE *in, FILE *out, sl_err *err);

#endif
