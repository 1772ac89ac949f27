# Reference values for measurement quality: reliability, validity, common-method checks, exploratory checks.
# R version 4.2.2 Patched (2022-11-10 r83330); lavaan 0.6.14, semTools 0.5.6, psych 2.2.9 (GPArotation for oblimin).
# Rerun from the repo root:  Rscript tests/reference/R/make_reference_measurement.R
#
# Cases written:
#   tests/reference/meas_bfi/   psych::bfi, A1 C4 C5 E1 E2 O2 O5 recoded 7 - x, 5-factor CFA (listwise, ML)
#   tests/reference/meas_med9/  tests/reference/data/sim_med9.csv (simulated), 9-factor CFA (skipped if absent)
#
# Missing data, as each R function treats it (the Python functions match each one):
#   cfa()                   listwise deletion over the model's items (lavaan default, missing = "listwise")
#   compRelSEM(), AVE()     denominators from lavInspect(fit, "sampstat")$cov: listwise sample, divisor N
#   psych::alpha()          cov(x, use = "pairwise"); raw_alpha, r.drop and alpha.drop all from that matrix
#   psych::describe()       per item, NAs removed (n differs by item); skew/kurtosis type 3
#   semTools::htmt()        lavCor(missing = "listwise"): listwise over the model's items
#   psych::KMO(), cortest.bartlett(), fa(), fa.parallel()  cor(x, use = "pairwise"); Bartlett n = nrow(data)
#   psych::mardia()         na.omit: complete cases only
suppressPackageStartupMessages({
  library(lavaan); library(semTools); library(psych); library(jsonlite)
})
options(digits = 15, mc.cores = 1)  # mc.cores = 1: fa.parallel() random draws reproducible
stopifnot(as.character(packageVersion("lavaan")) == "0.6.14",
          as.character(packageVersion("semTools")) == "0.5.6",
          as.character(packageVersion("psych")) == "2.2.9")
script <- "tests/reference/R/make_reference_measurement.R"
root <- "tests/reference"
dir.create(file.path(root, "data"), showWarnings = FALSE, recursive = TRUE)

write_csv15 <- function(df, path) {
  write.csv(df, path, row.names = FALSE, na = "")
}
write_js <- function(x, path) {
  jsonlite::write_json(x, path, auto_unbox = TRUE, digits = NA, pretty = TRUE)
}
est_frame <- function(fit) {
  pe <- parameterEstimates(fit, standardized = TRUE, rsquare = FALSE)
  pe$std.nox <- NULL
  if (is.null(pe$label)) pe$label <- ""
  pe[, c("lhs", "op", "rhs", "label", "est", "se", "z", "pvalue", "ci.lower", "ci.upper",
         "std.lv", "std.all")]
}
mat_frame <- function(m, first = "construct") {
  m <- unclass(m)
  df <- data.frame(rownames(m), as.data.frame(matrix(as.numeric(m), nrow(m), dimnames = dimnames(m))),
                   check.names = FALSE)
  names(df)[1] <- first
  df
}

# ---------------------------------------------------------------- bfi data (shared file, written as in R)
bfi_path <- file.path(root, "data", "bfi.csv")
if (!file.exists(bfi_path)) {
  bfi0 <- psych::bfi
  write_csv15(bfi0[, c(names(bfi0)[1:25], "gender", "education", "age")], bfi_path)
}

run_case <- function(case, data_file, recode, factors, notes) {
  out <- file.path(root, case)
  dir.create(out, showWarnings = FALSE, recursive = TRUE)
  d <- read.csv(file.path(root, "data", data_file))
  for (v in names(recode)) d[[v]] <- 7 - d[[v]]
  items <- unlist(factors, use.names = FALSE)
  x <- d[, items]
  model <- paste0(names(factors), " =~ ", vapply(factors, paste, "", collapse = " + "), collapse = "\n")
  writeLines(model, file.path(out, "model.lav"))

  # ---- CFA (measurement model)
  fit <- cfa(model, data = d)
  write_csv15(est_frame(fit), file.path(out, "estimates.csv"))
  write_js(as.list(fitMeasures(fit)), file.path(out, "fit.json"))
  write_js(as.list(lavInspect(fit, "r2")), file.path(out, "r2.json"))
  write_csv15(mat_frame(lavInspect(fit, "sampstat")$cov, "item"), file.path(out, "sample_cov.csv"))

  # ---- reliability
  rel <- data.frame(construct = names(factors), n_items = lengths(factors), alpha = NA_real_)
  items_tab <- NULL
  for (f in names(factors)) {
    a <- psych::alpha(d[, factors[[f]]], warnings = FALSE)
    rel$alpha[rel$construct == f] <- a$total$raw_alpha
    items_tab <- rbind(items_tab, data.frame(item = factors[[f]], construct = f,
                                             n = a$item.stats$n, r.drop = a$item.stats$r.drop,
                                             alpha.drop = a$alpha.drop$raw_alpha))
  }
  omega <- compRelSEM(fit)
  ave <- AVE(fit)
  rel$omega <- as.numeric(omega[rel$construct])
  rel$ave <- as.numeric(ave[rel$construct])
  # cr = (sum l)^2 / ((sum l)^2 + sum theta) from the standardized solution (no R package function)
  std <- lavInspect(fit, "std")
  rel$cr <- vapply(rel$construct, function(f) {
    l <- std$lambda[factors[[f]], f]; th <- diag(std$theta)[factors[[f]]]
    sum(l)^2 / (sum(l)^2 + sum(th))
  }, 0)
  write_csv15(rel, file.path(out, "reliability.csv"))
  write_csv15(items_tab, file.path(out, "alpha_items.csv"))
  desc <- psych::describe(x)
  desc <- data.frame(item = rownames(desc), as.data.frame(desc)[, c("n", "mean", "sd", "median", "min", "max",
                                                                    "skew", "kurtosis", "se")])
  write_csv15(desc, file.path(out, "describe.csv"))
  m <- psych::mardia(x, plot = FALSE)
  write_js(m[c("n.obs", "n.var", "b1p", "b2p", "skew", "small.skew", "p.skew", "p.small", "kurtosis", "p.kurt")],
           file.path(out, "mardia.json"))

  # ---- validity
  write_csv15(mat_frame(htmt(model, data = d)), file.path(out, "htmt.csv"))
  write_csv15(mat_frame(htmt(model, data = d, htmt2 = FALSE)), file.path(out, "htmt_classic.csv"))
  write_csv15(mat_frame(lavInspect(fit, "cor.lv")), file.path(out, "cor_lv.csv"))

  # ---- exploratory
  k <- psych::KMO(x)
  write_js(list(MSA = k$MSA, MSAi = as.list(k$MSAi)), file.path(out, "kmo.json"))
  b <- psych::cortest.bartlett(cor(x, use = "pairwise"), n = nrow(x))
  write_js(b, file.path(out, "bartlett.json"))
  nf <- length(factors)
  for (rot in c("oblimin", "promax")) {
    e <- psych::fa(x, nfactors = nf, fm = "ml", rotate = rot)
    L <- unclass(e$loadings)
    write_csv15(data.frame(item = rownames(L), L, check.names = FALSE), file.path(out, paste0("efa_", rot, ".csv")))
    write_csv15(mat_frame(e$Phi, "factor"), file.path(out, paste0("efa_", rot, "_phi.csv")))
    write_js(list(uniquenesses = as.list(e$uniquenesses), objective = e$objective, STATISTIC = e$STATISTIC,
                  dof = e$dof), file.path(out, paste0("efa_", rot, ".json")))
  }
  set.seed(20260101)
  pa <- psych::fa.parallel(x, plot = FALSE)
  write_js(list(pc.values = pa$pc.values, fa.values = pa$fa.values, nfact = pa$nfact, ncomp = pa$ncomp,
                pc.sim = pa$pc.sim, fa.sim = pa$fa.sim, seed = 20260101, n.iter = 20, fm = "minres"),
           file.path(out, "parallel.json"))

  # ---- common method variance
  r <- cor(x, use = "pairwise")
  h <- psych::fa(x, nfactors = 1, rotate = "none", fm = "pa")
  write_js(list(pc_share = eigen(r)$values[1] / ncol(x),
                pa_share = sum(unclass(h$loadings)^2) / ncol(x),
                pa_loadings = as.list(setNames(as.numeric(unclass(h$loadings)), items))),
           file.path(out, "harman.json"))
  one <- paste0("G =~ ", paste(items, collapse = " + "))
  writeLines(one, file.path(out, "onefactor.lav"))
  fit1 <- cfa(one, data = d)
  write_csv15(est_frame(fit1), file.path(out, "onefactor_estimates.csv"))
  write_js(as.list(fitMeasures(fit1)), file.path(out, "onefactor_fit.json"))
  lrt <- lavTestLRT(fit, fit1)
  write_csv15(data.frame(model = rownames(lrt), as.data.frame(lrt), check.names = FALSE),
              file.path(out, "onefactor_lrt.csv"))
  # ULMC: traits + one method factor on every item, orthogonal to the traits, variance fixed to 1;
  # "free" method loadings and "equal" method loadings (one label m on all of them).
  for (variant in c("free", "equal")) {
    mload <- if (variant == "free") c(paste0("NA*", items[1]), items[-1]) else c(paste0("NA*", items[1]), paste0("m*", items))
    ulmc <- paste0(model, "\nMETHOD =~ ", paste(mload, collapse = " + "),
                   "\nMETHOD ~~ 1*METHOD\n", paste0("METHOD ~~ 0*", names(factors), collapse = "\n"))
    stem <- if (variant == "free") "ulmc" else "ulmc_equal"
    writeLines(ulmc, file.path(out, paste0(stem, ".lav")))
    fit2 <- cfa(ulmc, data = d)
    write_csv15(est_frame(fit2), file.path(out, paste0(stem, "_estimates.csv")))
    write_js(as.list(fitMeasures(fit2)), file.path(out, paste0(stem, "_fit.json")))
    lrt2 <- lavTestLRT(fit, fit2)
    write_csv15(data.frame(model = rownames(lrt2), as.data.frame(lrt2), check.names = FALSE),
                file.path(out, paste0(stem, "_lrt.csv")))
  }

  meta <- list(
    case = case, script = script, lavaan = "0.6.14", semTools = "0.5.6", psych = "2.2.9",
    call = "cfa(model, data = d)", data = paste0("../data/", data_file),
    data_md5 = unname(tools::md5sum(file.path(root, "data", data_file))), recode = recode,
    options = list(estimator = "ML", missing = "listwise", group = NULL, group_equal = NULL, ordered = NULL,
                   se = "standard", test = "standard", bootstrap = 0),
    notes = notes,
    files = list(
      "sample_cov.csv" = "lavInspect(fit, 'sampstat')$cov (listwise sample, divisor N)",
      "reliability.csv" = "alpha = psych::alpha(items)$total$raw_alpha (pairwise cov); omega = compRelSEM(fit); ave = AVE(fit); cr from lavInspect(fit, 'std') lambda and theta",
      "alpha_items.csv" = "psych::alpha per construct: item.stats n, r.drop; alpha.drop raw_alpha",
      "describe.csv" = "psych::describe(items) (type 3, NAs removed per item)",
      "mardia.json" = "psych::mardia(items) on complete cases (na.omit)",
      "htmt.csv" = "semTools::htmt(model, data) (HTMT2, listwise)",
      "htmt_classic.csv" = "semTools::htmt(model, data, htmt2 = FALSE) (arithmetic means, absolute correlations)",
      "cor_lv.csv" = "lavInspect(fit, 'cor.lv')",
      "kmo.json" = "psych::KMO(items) (pairwise cor)",
      "bartlett.json" = "psych::cortest.bartlett(cor(items, use = 'pairwise'), n = nrow(items))",
      "efa_oblimin.csv" = "psych::fa(items, nfactors = k, fm = 'ml', rotate = 'oblimin')$loadings (+ _phi.csv, .json)",
      "efa_promax.csv" = "psych::fa(items, nfactors = k, fm = 'ml', rotate = 'promax')$loadings (+ _phi.csv, .json)",
      "parallel.json" = "psych::fa.parallel(items, plot = FALSE) after set.seed(20260101): pc.values, fa.values, nfact, ncomp",
      "harman.json" = "Harman single factor: first eigenvalue of cor(items, use='pairwise') / p; psych::fa(nfactors=1, rotate='none', fm='pa') SS loadings / p",
      "onefactor.lav" = "single-factor CFA syntax; onefactor_estimates.csv, onefactor_fit.json; onefactor_lrt.csv = lavTestLRT(fit, fit1)",
      "ulmc.lav" = "measurement model + orthogonal unmeasured latent method factor (free loadings, variance 1); ulmc_estimates.csv, ulmc_fit.json, ulmc_lrt.csv = lavTestLRT(fit, fit2)",
      "ulmc_equal.lav" = "as ulmc.lav with all method loadings equal (label m); ulmc_equal_estimates.csv, ulmc_equal_fit.json, ulmc_equal_lrt.csv"
    ))
  write_js(meta, file.path(out, "meta.json"))
  invisible(NULL)
}

bfi_factors <- list(A = paste0("A", 1:5), C = paste0("C", 1:5), E = paste0("E", 1:5),
                    N = paste0("N", 1:5), O = paste0("O", 1:5))
bfi_recode <- setNames(as.list(rep("7-x", 7)), c("A1", "C4", "C5", "E1", "E2", "O2", "O5"))
run_case("meas_bfi", "bfi.csv", bfi_recode, bfi_factors,
         "psych::bfi (real data, 2800 respondents, some missing answers); reverse-keyed items recoded 7 - x before every analysis")

med9_path <- file.path(root, "data", "sim_med9.csv")
if (file.exists(med9_path)) {
  med9_factors <- list(PS = paste0("ps", 1:4), TC = paste0("tc", 1:3), EM = paste0("em", 1:3),
                       IM = paste0("im", 1:3), TR = paste0("tr", 1:3), RI = paste0("ri", 1:4),
                       KS = paste0("ks", 1:4), VCC = paste0("vcc", 1:4), SAT = paste0("sat", 1:3))
  run_case("meas_med9", "sim_med9.csv", setNames(list(), character(0)), med9_factors,
           "simulated co-creation survey data (see tests/reference/data/README.md); items used as stored")
} else {
  message("tests/reference/data/sim_med9.csv not found: meas_med9 skipped")
}
