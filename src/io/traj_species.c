/* Species table: -species names (LAMMPS types 1..n, or element/species names), else from frame 0:
 * LAMMPS types "1".."max type", or the names present, sorted (strcmp), so that the table does not
 * depend on the rank count or on the order of the atoms. */
#include "io/traj_impl.h"
#include <stdlib.h>
#include <string.h>

static int cmp_name(const void *a, const void *b)
{
  return strcmp((const char *)a, (const char *)b);
}

static PetscErrorCode from_option(pm_traj_t *t, const char *spec)
{
  char *buf, *tok, *save = NULL;

  PetscFunctionBeginUser;
  PetscCall(PetscStrallocpy(spec, &buf));
  for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    while (*tok == ' ') tok++;
    PetscCheck(t->nspecies < PM_SPECIES_MAX, t->comm, PETSC_ERR_USER_INPUT, "-species %s: at most %d names", spec, PM_SPECIES_MAX);
    PetscCheck(*tok && strlen(tok) < PM_NAME_MAX, t->comm, PETSC_ERR_USER_INPUT, "-species %s: names must have 1 to %d characters, e.g. -species Li,P,S,Cl", spec, PM_NAME_MAX - 1);
    for (int i = 0; i < t->nspecies; i++) PetscCheck(strcmp(t->names[i], tok), t->comm, PETSC_ERR_USER_INPUT, "-species %s: '%s' is listed twice", spec, tok);
    PetscCall(PetscStrncpy(t->names[t->nspecies++], tok, PM_NAME_MAX));
  }
  PetscCall(PetscFree(buf));
  PetscCheck(t->nspecies > 0, t->comm, PETSC_ERR_USER_INPUT, "-species: give a comma-separated list of names, e.g. -species Li,P,S,Cl");
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode from_frame0(pm_traj_t *t)
{
  pm_parsed_t p;
  int64_t     first;
  int         size;

  PetscFunctionBeginUser;
  PetscCall(pm_traj_parse_frame(t, t->comm, 0, 1, &p, &first));
  PetscCallMPI(MPI_Comm_size(t->comm, &size));
  if (t->species_by_type) {
    int mx = 0, g;
    for (int64_t i = 0; i < p.n; i++) mx = PetscMax(mx, p.type[i]);
    PetscCallMPI(MPI_Allreduce(&mx, &g, 1, MPI_INT, MPI_MAX, t->comm));
    PetscCheck(g <= PM_SPECIES_MAX, t->comm, PETSC_ERR_SUP, "%s: frame 0 has atom types up to %d but phasemap supports at most %d species", t->path, g, PM_SPECIES_MAX);
    t->nspecies = g;
    for (int i = 0; i < g; i++) PetscCall(PetscSNPrintf(t->names[i], PM_NAME_MAX, "%d", i + 1));
  } else {
    char(*all)[PM_NAME_MAX];
    int n = 0;
    PetscCall(PetscCalloc1((size_t)size * PM_SPECIES_MAX, &all));
    /* names beyond p.nnames are empty strings (p was zeroed) */
    PetscCallMPI(MPI_Allgather(p.names, PM_SPECIES_MAX * PM_NAME_MAX, MPI_CHAR, all, PM_SPECIES_MAX * PM_NAME_MAX, MPI_CHAR, t->comm));
    qsort(all, (size_t)size * PM_SPECIES_MAX, PM_NAME_MAX, cmp_name);
    for (int i = 0; i < size * PM_SPECIES_MAX; i++) {
      if (!all[i][0] || (n && !strcmp(all[i], t->names[n - 1]))) continue;
      PetscCheck(n < PM_SPECIES_MAX, t->comm, PETSC_ERR_SUP, "%s: frame 0 has more than %d species; phasemap supports at most %d", t->path, PM_SPECIES_MAX, PM_SPECIES_MAX);
      PetscCall(PetscStrncpy(t->names[n++], all[i], PM_NAME_MAX));
    }
    PetscCall(PetscFree(all));
    t->nspecies = n;
  }
  pm_parsed_free(&p);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_traj_setup_species(pm_traj_t *t, const char *spec)
{
  PetscFunctionBeginUser;
  t->species_by_type = t->cols.has_type && (spec[0] || !t->cols.has_name);
  if (spec[0]) {
    t->species_given = 1;
    PetscCall(from_option(t, spec));
  } else if (t->cols.has_type || t->cols.has_name)
    PetscCall(from_frame0(t));
  else {
    t->nspecies = 1; /* no type, element or species column: one species */
    PetscCall(PetscStrncpy(t->names[0], "1", PM_NAME_MAX));
  }
  for (int i = 0; i < t->nspecies; i++) t->name_ptr[i] = t->names[i];
  PetscFunctionReturn(PETSC_SUCCESS);
}
