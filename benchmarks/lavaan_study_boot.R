suppressPackageStartupMessages(library(lavaan))
args <- commandArgs(trailingOnly = TRUE)
model <- paste(readLines(args[1]), collapse = "\n")
dat <- read.csv(args[2])
tm <- system.time({
  fit <- sem(model, data = dat, se = "bootstrap", bootstrap = 2000L, iseed = 20240518L)
  pe <- parameterEstimates(fit, boot.ci.type = "perc")
})
cat(sprintf('{"elapsed": %.3f, "cpu": %.3f, "n_failed": %d}\n', tm[["elapsed"]],
    sum(tm[c("user.self", "sys.self")]), length(attr(lavInspect(fit, "boot"), "error.idx"))))
