# Reference values for "any lavaan model" (issue 11): auto.fix.single, second-order factors, growth models,
# MIMIC, heavy misfit, MLR on a saturated model, general constraints, modindices, lavTestLRT, resid(),
# lavPredict() and information = "observed".
#
# Written with: R version 4.2.2 Patched (2022-11-10 r83330), lavaan 0.6.14 (jsonlite). Rerun from the
# repository root (seconds):
#
#   Rscript tests/reference/R/make_reference_models.R
#
# Reads tests/reference/data/{HolzingerSwineford1939,PoliticalDemocracy}.csv (written by make_reference_core.R),
# writes tests/reference/data/Demo.growth.csv and the case folders listed at the end under tests/reference/.

suppressPackageStartupMessages({
  library(lavaan)
  library(jsonlite)
})
options(digits = 15)
stopifnot(as.character(packageVersion("lavaan")) == "0.6.14")

SCRIPT <- "tests/reference/R/make_reference_models.R"
ROOT <- "tests/reference"
DATA_DIR <- file.path(ROOT, "data")

write_json_file <- function(x, path) {
  jsonlite::write_json(x, path, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null")
}

estimates_table <- function(fit) {
  pe <- as.data.frame(parameterEstimates(fit, standardized = TRUE, rsquare = FALSE))
  pe$std.nox <- NULL
  if (!("label" %in% names(pe))) pe$label <- ""
  keep <- c("lhs", "op", "rhs", "label", if ("group" %in% names(pe)) "group",
            "est", "se", "z", "pvalue", "ci.lower", "ci.upper", "std.lv", "std.all")
  pe[, keep]
}

write_case <- function(case, fit, model, call, data, notes, extra_meta = list()) {
  dir <- file.path(ROOT, case)
  dir.create(dir, recursive = TRUE, showWarnings = FALSE)
  stopifnot(lavInspect(fit, "converged"))
  writeLines(model, file.path(dir, "model.lav"))
  write.csv(estimates_table(fit), file.path(dir, "estimates.csv"), row.names = FALSE, na = "")
  write_json_file(as.list(unclass(fitMeasures(fit))), file.path(dir, "fit.json"))
  meta <- c(list(case = case, script = SCRIPT, lavaan = as.character(packageVersion("lavaan")),
                 R = R.version.string, call = call, data = data, recode = setNames(list(), character(0)),
                 n = lavInspect(fit, "nobs"), converged = lavInspect(fit, "converged"),
                 iterations = lavInspect(fit, "iterations"), notes = notes), extra_meta)
  write_json_file(meta, file.path(dir, "meta.json"))
  cat(sprintf("%-16s chisq = %.4f  df = %d  cfi = %.4f  npar = %d\n", case, fitMeasures(fit, "chisq"),
              as.integer(fitMeasures(fit, "df")), fitMeasures(fit, "cfi"), as.integer(fitMeasures(fit, "npar"))))
  invisible(dir)
}

write_matrix <- function(m, path) write.csv(as.data.frame(unclass(m)), path, row.names = TRUE)

hs <- read.csv(file.path(DATA_DIR, "HolzingerSwineford1939.csv"), stringsAsFactors = FALSE)
pol <- read.csv(file.path(DATA_DIR, "PoliticalDemocracy.csv"), stringsAsFactors = FALSE)
gr_path <- file.path(DATA_DIR, "Demo.growth.csv")
write.csv(lavaan::Demo.growth, gr_path, row.names = FALSE)
growth_data <- read.csv(gr_path)
HS <- "../data/HolzingerSwineford1939.csv"
HS3 <- "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"

# 1. single-indicator latent variable inside a structural model (auto.fix.single)
m <- "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nS =~ x7\ntextual ~ visual + S"
write_case("mod_single", sem(m, data = hs), m, "sem(model, data = HolzingerSwineford1939)", HS,
           "S has one indicator: lavaan fixes x7's residual variance to 0 (auto.fix.single).")

# 2. second-order CFA
m <- paste0(HS3, "\ng =~ visual + textual + speed")
write_case("mod_second", cfa(m, data = hs), m, "cfa(model, data = HolzingerSwineford1939)", HS,
           "Second-order factor g over three first-order factors.")

# 3. linear growth model, without and with covariates (growth(): intercepts 0, latent means free)
m <- "i =~ 1*t1 + 1*t2 + 1*t3 + 1*t4\ns =~ 0*t1 + 1*t2 + 2*t3 + 3*t4"
write_case("mod_growth", growth(m, data = growth_data), m, "growth(model, data = Demo.growth)",
           "../data/Demo.growth.csv", "Linear growth model, lavaan tutorial.", list(fun = "growth"))
m <- paste0(m, "\ni ~ x1 + x2\ns ~ x1 + x2")
write_case("mod_growth_cov", growth(m, data = growth_data), m, "growth(model, data = Demo.growth)",
           "../data/Demo.growth.csv", "Linear growth model with two fixed-x covariates.", list(fun = "growth"))

# 4. MIMIC: two factors on three fixed-x covariates
m <- "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nvisual + textual ~ ageyr + agemo + sex"
write_case("mod_mimic", sem(m, data = hs), m, "sem(model, data = HolzingerSwineford1939)", HS,
           "MIMIC model with three observed covariates (fixed.x).")

# 5. heavily misfitting model: items assigned to the wrong factors
m <- "a =~ x1 + x4 + x7\nb =~ x2 + x5 + x8\nc =~ x3 + x6 + x9"
write_case("mod_misfit", cfa(m, data = hs), m, "cfa(model, data = HolzingerSwineford1939)", HS,
           "Items scrambled across factors: heavy misfit.")

# 6. MLR on a saturated model
m <- "F =~ x1 + x2 + x3"
write_case("mod_mlr_saturated", cfa(m, data = hs, estimator = "MLR"), m,
           "cfa(model, data = HolzingerSwineford1939, estimator = \"MLR\")", HS,
           "Three indicators, df = 0, MLR.", list(estimator = "MLR"))

# 7. constraints (lavaan tutorial forms)
m <- "y5 ~ b1*x1 + b2*x2 + b3*x3\nb1 == (b2 + b3)^2"
write_case("con_nonlin", sem(m, data = pol), m, "sem(model, data = PoliticalDemocracy)",
           "../data/PoliticalDemocracy.csv", "Nonlinear equality constraint.")
m <- "y5 ~ b1*x1 + b2*x2 + b3*x3\nb1 == 2*b3"
write_case("con_linear", sem(m, data = pol), m, "sem(model, data = PoliticalDemocracy)",
           "../data/PoliticalDemocracy.csv", "Linear equality constraint with arithmetic.")
m <- "y5 ~ b1*x1 + b2*x2 + b3*x3\nb2 > 0\nb1 < b3"
write_case("con_ineq", sem(m, data = pol), m, "sem(model, data = PoliticalDemocracy)",
           "../data/PoliticalDemocracy.csv", "Inequality constraints (lavaan: slack / active set).")
m <- paste0("visual =~ x1 + a*x2 + b*x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\na == b")
write_case("con_simple", cfa(m, data = hs), m, "cfa(model, data = HolzingerSwineford1939)", HS,
           "Simple equality of two labels.")

# 8. CFA with a residual covariance (the report's Table 2 must show df = 23)
m <- paste0(HS3, "\nx7 ~~ x8")
fit <- cfa(m, data = hs)
write_case("mod_rescov", fit, m, "cfa(model, data = HolzingerSwineford1939)", HS,
           "Three-factor CFA plus one residual covariance: chi-square(23).")

# 9. modindices, resid, lavPredict, information = "observed" on the HS three-factor CFA
fit <- cfa(HS3, data = hs)
write_case("diag_hs", fit, HS3, "cfa(model, data = HolzingerSwineford1939)", HS,
           "modindices(), resid(), lavPredict() of the three-factor CFA.")
d <- file.path(ROOT, "diag_hs")
mi <- as.data.frame(modindices(fit, sort. = TRUE))
write.csv(mi, file.path(d, "modindices.csv"), row.names = FALSE)
write_matrix(resid(fit, type = "raw")$cov, file.path(d, "resid_raw.csv"))
write_matrix(resid(fit, type = "cor")$cov, file.path(d, "resid_cor.csv"))
write_matrix(resid(fit, type = "standardized")$cov, file.path(d, "resid_standardized.csv"))
write.csv(as.data.frame(lavPredict(fit, method = "regression")), file.path(d, "predict_regression.csv"), row.names = FALSE)
write.csv(as.data.frame(lavPredict(fit, method = "Bartlett")), file.path(d, "predict_bartlett.csv"), row.names = FALSE)
fito <- cfa(HS3, data = hs, information = "observed")
write_case("diag_hs_observed", fito, HS3, "cfa(model, data = HolzingerSwineford1939, information = \"observed\")",
           HS, "Standard errors from the observed information (Hessian).", list(information = "observed"))
fitm <- cfa(HS3, data = hs, meanstructure = TRUE)
d2 <- file.path(ROOT, "diag_hs"); 
write.csv(as.data.frame(lavPredict(fitm, method = "regression")), file.path(d2, "predict_regression_means.csv"), row.names = FALSE)

# 10. multi-group modindices
fitg <- cfa(HS3, data = hs, group = "school")
write_case("diag_hs_groups", fitg, HS3, "cfa(model, data = HolzingerSwineford1939, group = \"school\")", HS,
           "Multi-group modindices().", list(group = "school"))
write.csv(as.data.frame(modindices(fitg, sort. = TRUE)), file.path(ROOT, "diag_hs_groups", "modindices.csv"),
          row.names = FALSE)

# 11. lavTestLRT: three-factor CFA against its orthogonal version, ML and MLR
orth <- paste0(HS3, "\nvisual ~~ 0*textual\nvisual ~~ 0*speed\ntextual ~~ 0*speed")
for (est in c("ML", "MLR")) {
  f1 <- cfa(HS3, data = hs, estimator = est)
  f0 <- cfa(orth, data = hs, estimator = est)
  case <- paste0("lrt_", tolower(est))
  write_case(case, f1, HS3, sprintf("cfa(model, data = HolzingerSwineford1939, estimator = \"%s\")", est), HS,
             "lavTestLRT(fit_orthogonal, fit) in lrt.csv; model_orthogonal.lav is the restricted model.",
             list(estimator = est))
  writeLines(orth, file.path(ROOT, case, "model_orthogonal.lav"))
  lrt <- as.data.frame(lavTestLRT(f1, f0))
  lrt$model <- rownames(lrt)
  write.csv(lrt, file.path(ROOT, case, "lrt.csv"), row.names = FALSE, na = "")
}

# 12. modindices of a structural model (=~, ~~ and ~ candidates; equivalent parameters dropped as NA)
m <- "ind60 =~ x1 + x2 + x3\ndem60 =~ y1 + y2 + y3 + y4\ndem65 =~ y5 + y6 + y7 + y8\ndem60 ~ ind60\ndem65 ~ dem60"
fit <- sem(m, data = pol)
write_case("diag_pol", fit, m, "sem(model, data = PoliticalDemocracy)", "../data/PoliticalDemocracy.csv",
           "modindices() of a structural model.")
write.csv(as.data.frame(modindices(fit, sort. = TRUE)), file.path(ROOT, "diag_pol", "modindices.csv"),
          row.names = FALSE)

# 13. modindices of the MIMIC model (fixed-x covariates) and of the growth model (mean structure)
write.csv(as.data.frame(modindices(sem(readLines(file.path(ROOT, "mod_mimic", "model.lav")), data = hs), sort. = TRUE)),
          file.path(ROOT, "mod_mimic", "modindices.csv"), row.names = FALSE)
write.csv(as.data.frame(modindices(growth(readLines(file.path(ROOT, "mod_growth", "model.lav")), data = growth_data),
                                   sort. = TRUE)),
          file.path(ROOT, "mod_growth", "modindices.csv"), row.names = FALSE)

# 14. resid() and lavPredict() of the multi-group CFA (mean structure: mean residuals too)
fitg <- cfa(HS3, data = hs, group = "school")
d <- file.path(ROOT, "diag_hs_groups")
for (type in c("raw", "cor", "standardized")) {
  r <- resid(fitg, type = type)
  for (g in names(r)) {
    write_matrix(r[[g]]$cov, file.path(d, sprintf("resid_%s_%s.csv", type, g)))
    write.csv(data.frame(variable = names(r[[g]]$mean), mean = unname(r[[g]]$mean)),
              file.path(d, sprintf("resid_%s_%s_mean.csv", type, g)), row.names = FALSE)
  }
}
sc <- lavPredict(fitg, method = "regression")
for (g in names(sc)) write.csv(as.data.frame(sc[[g]]), file.path(d, sprintf("predict_regression_%s.csv", g)),
                               row.names = FALSE)

# 15. MLR with a nonlinear equality and an active inequality constraint
m <- "y5 ~ b1*x1 + b2*x2 + b3*x3\nb1 == (b2 + b3)^2"
write_case("con_nonlin_mlr", sem(m, data = pol, estimator = "MLR"), m,
           "sem(model, data = PoliticalDemocracy, estimator = \"MLR\")", "../data/PoliticalDemocracy.csv",
           "Nonlinear equality constraint under MLR.", list(estimator = "MLR"))
m <- "visual =~ x1 + a*x2 + b*x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\nb == 2*a - 1\na < 0.5"
write_case("con_cfa_mlr", cfa(m, data = hs, estimator = "MLR"), m,
           "cfa(model, data = HolzingerSwineford1939, estimator = \"MLR\")", HS,
           "CFA with a linear equality and an active inequality constraint under MLR.", list(estimator = "MLR"))

# 16. modindices of a metric-invariance model (equal loadings across schools)
fitm <- cfa(HS3, data = hs, group = "school", group.equal = "loadings")
write_case("diag_hs_metric", fitm, HS3,
           "cfa(model, data = HolzingerSwineford1939, group = \"school\", group.equal = \"loadings\")", HS,
           "Multi-group modindices() with equality constraints.", list(group = "school", group_equal = "loadings"))
write.csv(as.data.frame(modindices(fitm, sort. = TRUE)), file.path(ROOT, "diag_hs_metric", "modindices.csv"),
          row.names = FALSE)
