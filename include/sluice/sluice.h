/* sluice: the umbrella header. A connector includes only this. */
#ifndef SLUICE_H
#define SLUICE_H

#define SLUICE_VERSION "0.1.0"

#include "sluice/buf.h"
#include "sluice/connector.h"
#include "sluice/err.h"
#include "sluice/json.h"
#include "sluice/protocol.h"
#include "sluice/rand.h"
#include "sluice/schema.h"

#endif
