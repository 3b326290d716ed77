/* Run report: per-stage wall time and peak memory, the /run group of the output, the summary. */
#pragma once
#include <phasemap/io.h>

typedef struct pm_report pm_report_t;

/* Collective. Free with pm_report_destroy. */
PetscErrorCode pm_report_create(MPI_Comm comm, pm_report_t **rep);
/* Reads -quiet. Collective. */
PetscErrorCode pm_report_set_from_options(pm_report_t *rep);
/* Mark the start / end of a named stage (collective: the end reduces time and memory over
 * ranks); rank 0 prints "stage <name>: done in X s" unless -quiet. */
PetscErrorCode pm_report_stage_begin(pm_report_t *rep, const char *name);
PetscErrorCode pm_report_stage_end(pm_report_t *rep, const char *name);
/* Problem size for the summary. Not collective. */
PetscErrorCode pm_report_set_input(pm_report_t *rep, pm_gidx_t n, int dim);
/* /run/stage_names, /run/stage_seconds, /run/stage_peak_rss_bytes (max over ranks). Collective. */
PetscErrorCode pm_report_write(const pm_report_t *rep, pm_output_t *out);
/* Rank 0 prints the short summary table. Collective. */
PetscErrorCode pm_report_summary(const pm_report_t *rep, const char *output);
PetscErrorCode pm_report_destroy(pm_report_t **rep);
