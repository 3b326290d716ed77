/* Every option phasemap defines (used only to suggest the closest one for a misspelling).
 * A stage that adds an option adds its name here as well. */
#pragma once
static const char *const pm_options_known[] = {
  /* global */
  "-input", "-input_dataset", "-input_format", "-output", "-output_compress", "-stages", "-force", "-quiet",
  "-traceback", "-help", "-options_file", "-log_view",
  /* knn */
  "-knn_k", "-knn_method", "-knn_tile", "-knn_leaf", "-knn_simd", "-knn_prebound", "-knn_prebound_rank", "-knn_filter", "-knn_symmetric", "-knn_symmetric_min_rows", "-duplicates",
  /* id */
  "-twonn_fraction", "-gride_range_max",
  /* density */
  "-density", "-density_id", "-density_knn_k", "-kstar_alpha", "-pak_maxit",
  "-bmti_alpha", "-bmti_errors", "-bmti_errors_probes", "-bmti_errors_max_n", "-bmti_errors_untruncated", "-bmti_ksp_type", "-bmti_pc_type",
  "-bmti_ksp_rtol", "-bmti_ksp_atol", "-bmti_ksp_max_it", "-bmti_ksp_monitor", "-bmti_ksp_view", "-bmti_seed",
  "-bmti_probe_ksp_type", "-bmti_probe_pc_type", "-bmti_probe_ksp_rtol", "-bmti_probe_ksp_max_it", "-bmti_probe_ksp_monitor",
  /* cluster */
  "-cluster_method", "-cluster_density", "-dpa_z", "-dpa_halo", "-dp_rho_cut", "-dp_delta_cut", "-dp_plot",
  /* trajectories and descriptors */
  "-frames", "-species", "-columns", "-strict", "-descriptor", "-descriptor_chunk", "-steinhardt_l", "-steinhardt_wl",
  "-steinhardt_cutoff", "-steinhardt_nnn", "-steinhardt_average", "-sf_cutoff", "-sf_eta", "-sf_rs", "-sf_zeta",
  "-sf_lambda", "-soap_nmax", "-soap_lmax", "-soap_cutoff", "-soap_sigma", "-standardize", "-pca_components",
  "-pca_variance", "-pca_eigensolver", "-pca_block",
  NULL};
