/* Private interfaces of the descriptors module (included only by the files of src/descriptors). */
#pragma once
#include <phasemap/descriptors.h>

/* Neighbour list of the atoms a rank owns in one frame. The environment arrays hold the owned
 * atoms first (0..n_own-1) and then the ghost atoms (periodic images and atoms of other ranks)
 * up to n_all. For owned atom i its neighbours (all j != i with |r_j - r_i| < rc) are entries
 * off[i] .. off[i+1]-1: env index j[e] and d[4e..4e+3] = (dx, dy, dz, r) with d = r_j - r_i,
 * sorted by (r, then atom id) so that "nearest n" choices are deterministic. */
typedef struct {
  int64_t    n;   /* owned atoms */
  int64_t   *off; /* n + 1 */
  int64_t   *j;   /* env index of each neighbour */
  double    *d;   /* 4 doubles per neighbour */
  double     rc;
  const int *species; /* species of every env atom (n_all), borrowed */
  int        nspecies;
  /* Set by pm_nlist_build (the driver builds lists for chunks of the owned atoms): row i of this
   * list is owned atom first + i of the domain. Code that only reads the list ignores these. */
  int64_t first;
  int64_t cap_n, cap_e; /* allocated rows and neighbour entries */
} pm_nlist_t;

/* ---- spatial decomposition of one frame with ghost atoms (domain.c) ---- */

/* The atoms of one frame split over the ranks of comm by a px x py x pz grid of the box in
 * fractional coordinates, with ghost atoms (other ranks' atoms and periodic images) within rc of
 * the rank's domain. Owned atoms 0..n_own-1, ghosts n_own..n_all-1. */
typedef struct {
  MPI_Comm comm; /* borrowed */
  pm_box_t box;
  double   hinv[3][3]; /* fractional s = (r - lo) hinv (row vector); r - lo = s h */
  double   width[3];   /* distance between opposite faces of the box */
  double   delta[3];   /* rc / width (slightly enlarged): ghost layer in fractional units */
  int      grid[3], coord[3];
  double   rc;
  int64_t  natoms; /* atoms in the whole frame */
  int64_t  n_own, n_all;
  int64_t *id, *order; /* n_all */
  int     *species;    /* n_all */
  double  *pos;        /* n_all x 3: owned atoms wrapped into the box; ghosts at their image */
  double  *pos_in;     /* n_own x 3 positions as read */
  int      n_extra;
  double  *extra; /* n_own x n_extra */
  /* halo plan: send_idx lists the owned atom of every ghost copy sent, grouped by destination */
  int     *scnt, *sdsp, *rcnt, *rdsp;
  int64_t *send_idx;
} pm_domain_t;

/* Collective on comm. atoms: any disjoint share of the frame on each rank (borrowed). */
PetscErrorCode pm_domain_create(MPI_Comm comm, const pm_atoms_t *atoms, double rc, pm_domain_t **dom);
/* Fill the ghost rows (n_own..n_all-1) of data (n_all x width doubles) from their owners. Collective. */
PetscErrorCode pm_domain_halo(const pm_domain_t *dom, int width, double *data);
PetscErrorCode pm_domain_destroy(pm_domain_t **dom);
/* Process grid px*py*pz = size minimising the subdomain surface for a box of face widths w. */
void pm_domain_grid(int size, const double w[3], const int periodic[3], int grid[3]);

/* ---- linked cells and neighbour lists (nlist.c) ---- */
typedef struct {
  int      nc[3];
  int      kmax[3]; /* cells searched on each side along each direction for the full cutoff */
  double   r_inner; /* every atom within r_inner lies in the cells kmax - 1 around */
  double   s0[3], inv_cw[3];
  int64_t *start; /* ncells + 1 */
  int64_t *atoms; /* env atoms sorted by cell */
  int64_t *cell;  /* cell of every env atom */
  double  *xyz;   /* positions in the order of atoms: contiguous scans */
} pm_cells_t;

/* Bin every env atom of dom into cells about rc/3 wide. Not collective. */
PetscErrorCode pm_cells_create(const pm_domain_t *dom, double rc, pm_cells_t **cells);
PetscErrorCode pm_cells_destroy(pm_cells_t **cells);
/* Neighbour list (r < rc strictly, sorted by (r, id, dx, dy, dz)) of owned atoms first..first+count-1.
 * max_nb > 0 keeps only the max_nb nearest of each atom. nl is reused across calls (buffers grow);
 * free with pm_nlist_free. Not collective. */
PetscErrorCode pm_nlist_build(const pm_domain_t *dom, const pm_cells_t *cells, double rc, int64_t first, int64_t count, int max_nb, pm_nlist_t *nl);
PetscErrorCode pm_nlist_free(pm_nlist_t *nl);

/* ---- spherical harmonics and Wigner 3j (ylm.c) ---- */
#define PM_STEINHARDT_LMAX 20
#define PM_LM(l, m)        ((l) * ((l) + 1) / 2 + (m))
typedef struct {
  int           lmax;
  double       *a, *b, *diag;
  unsigned char use[PM_STEINHARDT_LMAX + 1]; /* degrees accumulated by pm_ylm_add (all by default) */
} pm_ylm_t;
PetscErrorCode pm_ylm_create(int lmax, pm_ylm_t **ylm);
PetscErrorCode pm_ylm_destroy(pm_ylm_t **ylm);
/* re/im[PM_LM(l, m)] += Y_lm(u), 0 <= m <= l <= lmax, for the degrees with use[l] set; u a unit
 * vector (Condon-Shortley phase). lmax <= PM_STEINHARDT_LMAX. */
void pm_ylm_add(const pm_ylm_t *ylm, const double u[3], double *re, double *im);
/* pm_ylm_add(u) then pm_ylm_add(v), faster. */
void   pm_ylm_add2(const pm_ylm_t *ylm, const double u[3], const double v[3], double *re, double *im);
double pm_wigner3j(int j1, int j2, int j3, int m1, int m2, int m3);
/* Folded w_l terms: n sorted triples m[3i..3i+2] with coefficients c[i] (PetscFree2(m, c)). */
PetscErrorCode pm_w3j_table(int l, int *n, int **m, double **c);

/* ---- Steinhardt q_l, w_l, w^_l and Lechner-Dellago averages (steinhardt.c) ---- */
typedef struct pm_steinhardt pm_steinhardt_t;
PetscErrorCode               pm_steinhardt_create(MPI_Comm comm, pm_steinhardt_t **st);
/* -steinhardt_l, -steinhardt_wl, -steinhardt_cutoff, -steinhardt_nnn, -steinhardt_average. Collective. */
PetscErrorCode pm_steinhardt_set_from_options(pm_steinhardt_t *st);
PetscErrorCode pm_steinhardt_get_dim(const pm_steinhardt_t *st, int *dim);
/* Neighbour cutoff, and the number of nearest neighbours kept (0 = all within the cutoff). */
PetscErrorCode pm_steinhardt_get_neighbours(const pm_steinhardt_t *st, double *rc, int *nnn);
PetscErrorCode pm_steinhardt_feature_names(const pm_steinhardt_t *st, char ***names);
/* Per frame: begin (allocates per-atom storage if averaging), compute for every chunk of owned
 * atoms (columns col0.. of out rows, row i = owned atom nl->first + i, stride ldo), end (the
 * averaged values need the q_lm of ghost atoms: halo exchange, collective on dom->comm). */
PetscErrorCode pm_steinhardt_frame_begin(pm_steinhardt_t *st, const pm_domain_t *dom);
PetscErrorCode pm_steinhardt_compute(pm_steinhardt_t *st, const pm_nlist_t *nl, double *out, int ldo, int col0);
PetscErrorCode pm_steinhardt_frame_end(pm_steinhardt_t *st, const pm_domain_t *dom, double *out, int ldo, int col0);
/* q_l, w_l and w^_l of one set of nb bond vectors (stride 4: dx, dy, dz, r) for the object's
 * l values: q[nl], w[nl], what[nl]. Not collective (used by tests). */
PetscErrorCode pm_steinhardt_bonds(pm_steinhardt_t *st, int nb, const double *d, double *q, double *w, double *what);
PetscErrorCode pm_steinhardt_destroy(pm_steinhardt_t **st);

/* ---- Behler-Parrinello symmetry functions G2, G4 (symfunc.c) ---- */
typedef struct pm_sf pm_sf_t;
PetscErrorCode       pm_sf_create(MPI_Comm comm, pm_sf_t **sf);
/* -sf_cutoff, -sf_eta, -sf_rs, -sf_zeta, -sf_lambda. Collective. */
PetscErrorCode pm_sf_set_from_options(pm_sf_t *sf);
PetscErrorCode pm_sf_get_dim(const pm_sf_t *sf, int nspecies, int *dim);
PetscErrorCode pm_sf_get_cutoff(const pm_sf_t *sf, double *rc);
PetscErrorCode pm_sf_feature_names(const pm_sf_t *sf, int nspecies, const char *const *species, char ***names);
/* G2 and G4 of every atom of nl (neighbours beyond the sf cutoff ignored). Not collective. */
PetscErrorCode pm_sf_compute(const pm_sf_t *sf, const pm_nlist_t *nl, double *out, int ldo, int col0);
PetscErrorCode pm_sf_destroy(pm_sf_t **sf);

/* ---- SOAP (soap.c) ---- */
typedef struct pm_soap pm_soap_t;
PetscErrorCode         pm_soap_create(MPI_Comm comm, pm_soap_t **s);
/* -soap_nmax, -soap_lmax, -soap_cutoff, -soap_sigma. Collective. */
PetscErrorCode pm_soap_set_from_options(pm_soap_t *s);
/* Number of SOAP features for nspecies species; the cutoff it needs. Not collective. */
PetscErrorCode pm_soap_get_dim(const pm_soap_t *s, int nspecies, int *dim);
PetscErrorCode pm_soap_get_cutoff(const pm_soap_t *s, double *rc);
/* Power spectrum of every owned atom of nl (nl->rc >= the SOAP cutoff; farther pairs ignored).
 * out: nl->n rows, row stride ldo, the dim features at columns col0.. . Not collective. */
PetscErrorCode pm_soap_compute(const pm_soap_t *s, const pm_nlist_t *nl, double *out, int ldo, int col0);
PetscErrorCode pm_soap_feature_names(const pm_soap_t *s, int nspecies, char ***names); /* PetscFree each + array */
PetscErrorCode pm_soap_destroy(pm_soap_t **s);

/* ---- standardisation and PCA (pca.c, ScaLAPACK) ---- */
typedef struct pm_pca pm_pca_t;
PetscErrorCode        pm_pca_create(MPI_Comm comm, pm_pca_t **p);
/* -standardize, -pca_components m, -pca_variance f. Collective. */
PetscErrorCode pm_pca_set_from_options(pm_pca_t *p);
/* True if either standardisation or PCA is requested. */
PetscBool pm_pca_active(const pm_pca_t *p);
/* Early check, once the descriptor width D is known (before any frame is computed): -pca_components
 * must not exceed D. Collective (same D on every rank); error names the option. */
PetscErrorCode pm_pca_check_dim(const pm_pca_t *p, int D);
/* Standardise (if asked) and project onto the leading components (if asked); *X is replaced by
 * the transformed matrix (same row layout). Collective. */
PetscErrorCode pm_pca_apply(pm_pca_t *p, pm_rows_t **X);
/* /atoms/pca/{mean,scale,loadings,explained_variance,explained_variance_ratio}. Collective. */
PetscErrorCode pm_pca_write(const pm_pca_t *p, pm_output_t *out, const char *group);
PetscErrorCode pm_pca_destroy(pm_pca_t **p);

/* ---- the stage object (descriptors.c, desc_frame.c, desc_run.c, desc_write.c) ---- */
typedef enum { PM_DESC_STEINHARDT,
               PM_DESC_SF,
               PM_DESC_SOAP,
               PM_DESC_COLUMNS,
               PM_DESC_NKINDS } pm_desc_kind_t;
#define PM_DESC_MAXBLK 8

struct pm_descriptors {
  MPI_Comm         comm; /* borrowed */
  int              nblk, blk[PM_DESC_MAXBLK], blk_col[PM_DESC_MAXBLK], blk_dim[PM_DESC_MAXBLK];
  pm_steinhardt_t *st;
  pm_sf_t         *sf;
  pm_soap_t       *soap;
  pm_pca_t        *pca;
  int64_t          chunk; /* owned atoms per neighbour-list chunk */
  /* set by pm_descriptors_setup */
  PetscBool ready;
  int       nspecies, n_extra, dim, max_nb;
  char      species[PM_SPECIES_MAX][PM_NAME_MAX];
  char    **names; /* dim column names */
  double    rc;    /* neighbour-list cutoff (largest block cutoff) */
  /* results kept for pm_descriptors_write (block rows in global atom order) */
  pm_gidx_t     n_global, row_start, n_local;
  int64_t       nframes, *timestep;
  int64_t      *frame, *id;
  int          *species_of;
  double       *pos, *x;
  double        seconds;
  PetscLogEvent ev_domain, ev_nlist, ev_steinhardt, ev_sf, ev_soap, ev_redist, ev_write;
};

/* Fix the species table and extra columns (from the trajectory) and derive the column layout.
 * Collective only through its error checks (same arguments on every rank). */
PetscErrorCode pm_descriptors_setup(pm_descriptors_t *d, int nspecies, const char *const *species, int n_extra, const char *const *extra_names);

/* Descriptors of one frame's atoms, held in any disjoint distribution over comm (all ranks of comm
 * call). Output: the atoms this rank owns after the spatial decomposition, n rows of d->dim
 * values with their order/id/species/position as read. Free with pm_frame_rows_free. */
typedef struct {
  int64_t  n;
  int64_t *order, *id;
  int     *species;
  double  *pos, *x;
} pm_frame_rows_t;
PetscErrorCode pm_descriptors_compute_frame(pm_descriptors_t *d, MPI_Comm comm, const pm_atoms_t *atoms, pm_frame_rows_t *fr);
PetscErrorCode pm_frame_rows_free(pm_frame_rows_t *fr);
/* PETSc error handler that keeps the first error message in ctx (PM_REASON_MAX chars) silently. */
PetscErrorCode pm_descriptors_capture_error(MPI_Comm comm, int line, const char *fun, const char *file, PetscErrorCode n, PetscErrorType p, const char *mess, void *ctx);
/* Free the rows kept for pm_descriptors_write. */
PetscErrorCode pm_descriptors_free_results(pm_descriptors_t *d);
