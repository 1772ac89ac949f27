# Reference values for WLSMV with empty cells in bivariate tables (case ord_zero).
#
# Written with: R 4.2.2, lavaan 0.6.14, jsonlite. Rerun from the repo root:
#   Rscript tests/reference/R/make_reference_ordinal.R
#
# Data: DERIVED from data/hs_ordinal.csv (lavaan's real HolzingerSwineford1939, n = 301, cut at terciles
# by make_reference_estimators.R), recoded here so that some bivariate tables have empty cells:
#   x7d = 2 if x7 == 3 else 1                 (binary)
#   x8d = 2 if x8 == 3 and x7 == 3 else 1     (binary; the 2x2 table x7d x x8d has exactly one empty cell,
#                                              where lavaan's zero.add = c(0.5, 0) moves 0.5 keeping margins)
#   x9m = x9, but 2 where x1 == 1 and x9 == 3 (the 3x3 table x1 x x9m has an empty cell; nothing is added)
#   x6g = x6 coded 1, 2, 5                    (unobserved scale points 3 and 4: categories are observed values)
# Writes tests/reference/ord_zero/{data.csv, model.lav, estimates.csv, fit.json, polychoric.csv,
# thresholds.csv, zero_cells.csv, meta.json}.

suppressPackageStartupMessages({
  library(lavaan)
  library(jsonlite)
})
options(digits = 15)
stopifnot(as.character(packageVersion("lavaan")) == "0.6.14")

REF <- "tests/reference"
if (!dir.exists(REF)) stop("run this script from the repository root")
d <- file.path(REF, "ord_zero")
dir.create(d, showWarnings = FALSE)

hs <- read.csv(file.path(REF, "data", "hs_ordinal.csv"))
dat <- data.frame(x1 = hs$x1, x2 = hs$x2, x3 = hs$x3, x4 = hs$x4, x5 = hs$x5,
                  x6g = c(1L, 2L, 5L)[hs$x6],
                  x7d = ifelse(hs$x7 == 3, 2L, 1L),
                  x8d = ifelse(hs$x8 == 3 & hs$x7 == 3, 2L, 1L),
                  x9m = ifelse(hs$x1 == 1 & hs$x9 == 3, 2L, hs$x9))
write.csv(dat, file.path(d, "data.csv"), row.names = FALSE)
dat <- read.csv(file.path(d, "data.csv"))
items <- names(dat)

model <- paste("visual =~ x1 + x2 + x3 + x9m",
               "textual =~ x4 + x5 + x6g",
               "speed =~ x7d + x8d + x9m", sep = "\n")
fit <- cfa(model, data = dat, ordered = items, estimator = "WLSMV")
stopifnot(lavInspect(fit, "converged"))
writeLines(model, file.path(d, "model.lav"))
pe <- as.data.frame(parameterEstimates(fit, standardized = TRUE, rsquare = FALSE))
if (!"label" %in% names(pe)) pe$label <- ""
write.csv(pe[, c("lhs", "op", "rhs", "label", "est", "se", "z", "pvalue", "ci.lower", "ci.upper",
                 "std.lv", "std.all")], file.path(d, "estimates.csv"), row.names = FALSE, na = "")
write_json(as.list(fitMeasures(fit)), file.path(d, "fit.json"), auto_unbox = TRUE, digits = NA, pretty = TRUE)
ss <- lavInspect(fit, "sampstat")
pc <- unclass(ss$cov)
write.csv(data.frame(variable = rownames(pc), pc, check.names = FALSE), file.path(d, "polychoric.csv"),
          row.names = FALSE)
th <- unclass(ss$th)
write.csv(data.frame(lhs = sub("\\|.*$", "", names(th)), op = "|", rhs = sub("^.*\\|", "", names(th)),
                     est = as.numeric(th)), file.path(d, "thresholds.csv"), row.names = FALSE)
zc <- names(lavInspect(fit, "zero.cell.tables"))   # "a_b" for every table with an empty cell
write.csv(data.frame(table = zc), file.path(d, "zero_cells.csv"), row.names = FALSE)
meta <- list(case = "ord_zero", script = "tests/reference/R/make_reference_ordinal.R",
             lavaan = as.character(packageVersion("lavaan")),
             call = sprintf("cfa(model, data = dat, ordered = %s, estimator = \"WLSMV\")",
                            paste(deparse(items, width.cutoff = 500L), collapse = " ")),
             data = "data.csv", recode = setNames(list(), character(0)),
             options = list(estimator = "WLSMV", zero.add = lavInspect(fit, "options")$zero.add,
                            zero.keep.margins = lavInspect(fit, "options")$zero.keep.margins,
                            parameterization = lavInspect(fit, "options")$parameterization),
             nobs = as.list(lavInspect(fit, "nobs")), converged = TRUE,
             notes = paste("DERIVED from real data (HolzingerSwineford1939 via data/hs_ordinal.csv), recoded to",
                           "create empty cells; see the script header. Tables with empty cells:",
                           paste(zc, collapse = "; ")))
write_json(meta, file.path(d, "meta.json"), auto_unbox = TRUE, digits = NA, pretty = TRUE)
fm <- fitMeasures(fit)
cat(sprintf("ord_zero: chisq = %.4f df = %d scaled = %.4f\n", fm[["chisq"]], as.integer(fm[["df"]]),
            fm[["chisq.scaled"]]))
print(zc)
print(table(dat$x7d, dat$x8d)); print(table(dat$x1, dat$x9m))
