// The experiment layer: grids of quantization runs (GDNSQ rows, PTQ and fixed-bit baselines,
// ablations) from one config, resumable, with their results table. Above train/quant/export/report.
export * from './config';
export { ptq, PtqOptions, PtqResult } from './ptq';
export { loadGridData, GridData } from './grid-data';
export { ResultRow, Results, readResults, mergeResults, resultRow, writeJsonAtomic } from './results';
export { resultsMarkdown, checkGoals, seedsNote, GoalCheck, MarkdownOptions } from './results-markdown';
export {
  runRow, runSeed, runningIn, RUNNING_FILE, readRowResult, readSeedResult, combineSeeds, sampleSd, rowDir, seedDir, singleRun, rowCommand, trainingOptions, RowRunOptions, RowOutcome, RESULT_FILE,
} from './row';
export { runGrid, gridStatus, formatStatus, writeResults, writeResultsPlot, redrawResults, GridRunOptions, GridOutcome, RowStatus, RowState, SIZE_NOTE } from './grid';
export { shipRows, shippedName, modelCard, representativeSeed, seedText, ShipOptions, ShippedModel } from './ship';
