/* phasemap: wiring only. Configure every stage, run the requested stages in order, write the
 * output file, decide the exit code. */
#include <phasemap/core.h>
#include <phasemap/io.h>
#include <phasemap/descriptors.h>
#include <phasemap/graph.h>
#include <phasemap/id.h>
#include <phasemap/density.h>
#include <phasemap/cluster.h>
#include <phasemap/report.h>
#include <string.h>
#include <time.h>

static const char help[] =
  "phasemap: unsupervised phase detection in molecular-dynamics data (MPI + PETSc).\n"
  "usage: mpirun -n P phasemap -input FILE -output OUT.h5 [-stages knn,id,density,cluster] [options]\n"
  "       options also from -options_file inputs/NAME.opts or PETSC_OPTIONS; docs/USERGUIDE.md\n"
  "       describes every stage and option, docs/FORMAT.md the output file.\n\n";

typedef enum { ST_DESCRIPTORS, ST_KNN, ST_ID, ST_DENSITY, ST_CLUSTER, ST_COUNT } stage_t;
static const char *const stage_names[ST_COUNT] = {"descriptors", "knn", "id", "density", "cluster"};

typedef struct {
  char        input[PM_PATH_MAX], dataset[256], output[PM_PATH_MAX], stages[256];
  pm_format_t format;
  PetscBool   force, quiet, run[ST_COUNT];
  int         compress;
} config_t;

typedef struct {
  pm_rows_t        *X;     /* the N x D matrix of the run (input or descriptors) */
  pm_graph_t       *graph; /* kNN graph */
  pm_traj_t        *traj;
  pm_descriptors_t *desc;
  pm_knn_t         *knn;
  pm_id_t          *id;
  pm_density_t     *den;
  pm_cluster_t     *cl;
  pm_report_t      *rep;
} stages_t;

static PetscErrorCode parse_stages(MPI_Comm comm, config_t *c)
{
  char *s, *tok, *save = NULL;

  PetscFunctionBeginUser;
  PetscCall(PetscStrallocpy(c->stages, &s));
  for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    int found = -1;
    for (int k = 0; k < ST_COUNT; k++)
      if (!strcmp(tok, stage_names[k])) found = k;
    if (found < 0) {
      char bad[128];
      PetscCall(PetscStrncpy(bad, tok, sizeof bad));
      PetscCall(PetscFree(s));
      SETERRQ(comm, PETSC_ERR_USER_INPUT, "-stages: unknown stage '%s'; valid stages are descriptors,knn,id,density,cluster", bad);
    }
    c->run[found] = PETSC_TRUE;
  }
  PetscCall(PetscFree(s));
  /* Each stage needs the ones before it (computed on the way, written too). */
  if (c->run[ST_CLUSTER]) c->run[ST_DENSITY] = PETSC_TRUE;
  if (c->run[ST_DENSITY]) c->run[ST_ID] = PETSC_TRUE;
  if (c->run[ST_ID]) c->run[ST_KNN] = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode configure(MPI_Comm comm, config_t *c)
{
  PetscBool set, trace = PETSC_FALSE;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(c, sizeof *c));
  PetscCall(PetscStrncpy(c->dataset, "/X", sizeof c->dataset));
  PetscCall(PetscStrncpy(c->stages, "knn,id,density,cluster", sizeof c->stages));
  c->format = PM_FMT_AUTO;
  PetscOptionsBegin(comm, NULL, "phasemap run", NULL);
  PetscCall(PetscOptionsString("-input", "input file: feature matrix (.h5 .npy .txt .csv) or trajectory (.dump .lammpstrj .xyz .extxyz, optionally .gz)", "", c->input, c->input, sizeof c->input, NULL));
  PetscCall(PetscOptionsString("-input_dataset", "HDF5 dataset holding the N x D matrix", "", c->dataset, c->dataset, sizeof c->dataset, NULL));
  PetscCall(PetscOptionsEnum("-input_format", "input format (auto: from the file extension)", "", pm_format_names, (PetscEnum)c->format, (PetscEnum *)&c->format, NULL));
  PetscCall(PetscOptionsString("-output", "output HDF5 file (written as OUT.partial, renamed when complete)", "", c->output, c->output, sizeof c->output, NULL));
  PetscCall(PetscOptionsBool("-force", "overwrite an existing output file", "", c->force, &c->force, NULL));
  PetscCall(PetscOptionsString("-stages", "comma list of stages: descriptors,knn,id,density,cluster (prerequisites are added)", "", c->stages, c->stages, sizeof c->stages, &set));
  PetscCall(PetscOptionsBoundedInt("-output_compress", "deflate level 0-9 for large datasets (0: none)", "", c->compress, &c->compress, NULL, 0));
  PetscCall(PetscOptionsBool("-quiet", "no progress or summary on stdout", "", c->quiet, &c->quiet, NULL));
  PetscCall(PetscOptionsBool("-traceback", "print the call stack of an error", "", trace, &trace, NULL));
  PetscOptionsEnd();
  if (c->format == PM_FMT_AUTO && c->input[0]) c->format = pm_format_from_path(c->input);
  PetscCall(parse_stages(comm, c));
  if (pm_format_is_trajectory(c->format)) {
    c->run[ST_DESCRIPTORS] = PETSC_TRUE;
  } else {
    PetscCheck(!c->run[ST_DESCRIPTORS] || !c->input[0], comm, PETSC_ERR_USER_INPUT, "-stages descriptors needs a trajectory input (LAMMPS dump or extended XYZ), not %s", c->input);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode stages_create(MPI_Comm comm, stages_t *s)
{
  PetscFunctionBeginUser;
  PetscCall(pm_traj_register_options(comm)); /* -frames, -species, -columns, -strict */
  PetscCall(pm_descriptors_create(comm, &s->desc));
  PetscCall(pm_descriptors_set_from_options(s->desc));
  PetscCall(pm_knn_create(comm, &s->knn));
  PetscCall(pm_knn_set_from_options(s->knn));
  PetscCall(pm_id_create(comm, &s->id));
  PetscCall(pm_id_set_from_options(s->id));
  PetscCall(pm_density_create(comm, &s->den));
  PetscCall(pm_density_set_from_options(s->den));
  PetscCall(pm_cluster_create(comm, &s->cl));
  PetscCall(pm_cluster_set_from_options(s->cl));
  PetscCall(pm_report_create(comm, &s->rep));
  PetscCall(pm_report_set_from_options(s->rep));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode stages_destroy(stages_t *s)
{
  PetscFunctionBeginUser;
  PetscCall(pm_graph_destroy(&s->graph));
  PetscCall(pm_rows_destroy(&s->X));
  PetscCall(pm_traj_destroy(&s->traj));
  PetscCall(pm_report_destroy(&s->rep));
  PetscCall(pm_cluster_destroy(&s->cl));
  PetscCall(pm_density_destroy(&s->den));
  PetscCall(pm_id_destroy(&s->id));
  PetscCall(pm_knn_destroy(&s->knn));
  PetscCall(pm_descriptors_destroy(&s->desc));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode write_root_attributes(MPI_Comm comm, const config_t *c, pm_output_t *out)
{
  char      *all = NULL, sha[65] = "", when[64];
  int        size;
  time_t     now = time(NULL);
  struct tm  tmv;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscOptionsGetAll(NULL, &all));
  PetscCall(pm_file_sha256(comm, c->input, sha));
  gmtime_r(&now, &tmv);
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tmv);
  PetscCall(pm_output_attr_string(out, "/", "phasemap_version", PM_VERSION));
  PetscCall(pm_output_attr_string(out, "/", "git_hash", PM_GIT_HASH));
  PetscCall(pm_output_attr_string(out, "/", "options", all ? all : ""));
  PetscCall(pm_output_attr_string(out, "/", "stages", c->stages));
  PetscCall(pm_output_attr_int(out, "/", "mpi_ranks", size));
  PetscCall(pm_output_attr_string(out, "/", "input_path", c->input));
  PetscCall(pm_output_attr_string(out, "/", "input_format", pm_format_names[c->format]));
  PetscCall(pm_output_attr_string(out, "/", "input_sha256", sha));
  PetscCall(pm_output_attr_string(out, "/", "created", when));
  PetscCall(pm_output_attr_string(out, "/", "blas_core", pm_blas_core()));
  PetscCall(PetscFree(all));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Everything that touches the output file; any error leaves through here and the caller discards
 * the output and frees what the stages hold (s owns every intermediate result). */
static PetscErrorCode run_stages(MPI_Comm comm, const config_t *c, stages_t *s, pm_output_t *out)
{
  PetscLogStage  lst[ST_COUNT + 1];
  double         t0, id_twonn = 0.0, id_err;

  PetscFunctionBeginUser;
  PetscCall(PetscLogStageRegister("Input", &lst[ST_COUNT]));
  for (int k = 0; k < ST_COUNT; k++) {
    char name[64];
    PetscCall(PetscSNPrintf(name, sizeof name, "Stage %s", stage_names[k]));
    PetscCall(PetscLogStageRegister(name, &lst[k]));
  }
  PetscCall(write_root_attributes(comm, c, out));

  t0 = pm_time();
  if (c->run[ST_DESCRIPTORS]) {
    PetscCall(PetscLogStagePush(lst[ST_COUNT]));
    PetscCall(pm_traj_open(comm, c->input, c->format, &s->traj));
    PetscCall(PetscLogStagePop());
    PetscCall(pm_report_stage_begin(s->rep, "descriptors"));
    PetscCall(PetscLogStagePush(lst[ST_DESCRIPTORS]));
    PetscCall(pm_descriptors_compute(s->desc, s->traj, &s->X));
    PetscCall(pm_descriptors_write(s->desc, out));
    PetscCall(PetscLogStagePop());
    PetscCall(pm_report_stage_end(s->rep, "descriptors"));
    if (!c->quiet) PetscCall(pm_descriptors_view(s->desc));
  } else {
    PetscCall(pm_report_stage_begin(s->rep, "input"));
    PetscCall(PetscLogStagePush(lst[ST_COUNT]));
    PetscCall(pm_matrix_read(comm, c->input, c->format, c->dataset, &s->X));
    PetscCall(PetscLogStagePop());
    PetscCall(pm_report_stage_end(s->rep, "input"));
  }
  PetscCall(pm_report_set_input(s->rep, s->X->n_global, s->X->dim));

  if (c->run[ST_KNN]) {
    PetscCall(pm_report_stage_begin(s->rep, "knn"));
    PetscCall(PetscLogStagePush(lst[ST_KNN]));
    PetscCall(pm_knn_build(s->knn, &s->X, &s->graph));
    PetscCall(pm_graph_write(s->graph, out));
    PetscCall(PetscLogStagePop());
    PetscCall(pm_report_stage_end(s->rep, "knn"));
  }
  if (c->run[ST_ID]) {
    PetscCall(pm_report_stage_begin(s->rep, "id"));
    PetscCall(PetscLogStagePush(lst[ST_ID]));
    PetscCall(pm_id_compute(s->id, s->graph));
    PetscCall(pm_id_write(s->id, out));
    PetscCall(pm_id_get_twonn(s->id, &id_twonn, &id_err));
    PetscCall(PetscLogStagePop());
    PetscCall(pm_report_stage_end(s->rep, "id"));
    if (!c->quiet) PetscCall(pm_id_view(s->id));
  }
  if (c->run[ST_DENSITY]) {
    pm_den_kind_t need;
    if (c->run[ST_CLUSTER]) {
      PetscCall(pm_cluster_get_density_kind(s->cl, &need));
      PetscCall(pm_density_require(s->den, need));
    }
    PetscCall(pm_report_stage_begin(s->rep, "density"));
    PetscCall(PetscLogStagePush(lst[ST_DENSITY]));
    PetscCall(pm_density_compute(s->den, s->X, s->graph, id_twonn));
    PetscCall(pm_density_write(s->den, out));
    PetscCall(PetscLogStagePop());
    PetscCall(pm_report_stage_end(s->rep, "density"));
    if (!c->quiet) PetscCall(pm_density_view(s->den));
  }
  if (c->run[ST_CLUSTER]) {
    PetscCall(pm_report_stage_begin(s->rep, "cluster"));
    PetscCall(PetscLogStagePush(lst[ST_CLUSTER]));
    PetscCall(pm_cluster_compute(s->cl, s->X, s->graph, s->den));
    PetscCall(pm_cluster_write(s->cl, out));
    PetscCall(PetscLogStagePop());
    PetscCall(pm_report_stage_end(s->rep, "cluster"));
    if (!c->quiet) PetscCall(pm_cluster_view(s->cl));
  }
  PetscCall(pm_output_attr_double(out, "/", "wall_seconds", pm_time() - t0));
  PetscCall(pm_report_write(s->rep, out));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The checks before anything is opened: no option left unused, an input with a known format. */
static PetscErrorCode check_run(MPI_Comm comm, const config_t *c)
{
  PetscFunctionBeginUser;
  PetscCall(pm_options_check_unused(comm));
  PetscCheck(c->input[0], comm, PETSC_ERR_USER_INPUT, "no input file given; add -input FILE (see phasemap -help)");
  PetscCheck(c->format != PM_FMT_AUTO, comm, PETSC_ERR_USER_INPUT, "%s: cannot tell the format from the file name; add -input_format h5|npy|text|lammps|extxyz", c->input);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode run(MPI_Comm comm)
{
  config_t       c;
  stages_t       s   = {0};
  pm_output_t   *out = NULL;
  PetscBool      help;
  PetscErrorCode err;

  PetscFunctionBeginUser;
  PetscCall(configure(comm, &c));
  PetscCall(stages_create(comm, &s)); /* every stage reads its options now: -help lists all */
  PetscCall(pm_blas_check(comm)); /* also with -help: scripts/blas-env.sh reads the advice there */
  PetscCall(PetscOptionsHasHelp(NULL, &help));
  if (help) {
    PetscCall(stages_destroy(&s));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  err = check_run(comm, &c);
  if (err) { /* nothing was opened: only the stages to free */
    PetscCall(stages_destroy(&s));
    return err;
  }
  PetscCall(pm_output_open(comm, c.output, c.force, &out));
  PetscCall(pm_output_set_compression(out, c.compress));
  err = run_stages(comm, &c, &s, out);
  if (err) {
    PetscCall(pm_output_discard(&out));
    PetscCall(stages_destroy(&s));
    return err;
  }
  PetscCall(pm_output_commit(&out));
  if (!c.quiet) PetscCall(pm_report_summary(s.rep, c.output));
  PetscCall(stages_destroy(&s));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  PetscErrorCode err;

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  PetscCall(pm_memory_init());
  PetscCall(PetscPushErrorHandler(pm_error_handler, NULL));
  err = run(PETSC_COMM_WORLD);
  PetscCall(PetscPopErrorHandler());
  if (PetscFinalize()) return 2;
  return err ? 1 : 0;
}
