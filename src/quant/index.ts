export { fakeQuantize, FakeQuantOptions, DEFAULT_EWGS_DELTA } from './fake-quant';
export { Quantizer, QuantizerOptions, QuantizerKind, QuantMethod, QUANT_METHODS, FP_BITS, Grid, Range, checkQuantMethod, checkBits, floorBits } from './quantizer';
export { QuantizedLayer, LayerQuantizers, quantizedLayers } from './qlayer';
export { QConv2d } from './qconv2d';
export { QLinear } from './qlinear';
export { FrozenBatchNorm2d } from './frozen-batchnorm';
export { foldBatchNorm, convBnPairs } from './bn-fuse';
export { quantize, QuantizeOptions, QuantizeReport, QuantizedLayerInfo, LayerBits, BnMode, BN_MODES, FpReason } from './quantize';
export { calibrate, activationElements, ActInit, ACT_INITS, CalibrateOptions, CalibrationReport, CalibratedQuantizer } from './calibrate';
export { projectQuantizers } from './project';
export { quantizerBits, QuantizerBits, QuantizerRole, bitsSummary, BitsSummary, BitsStats, isConverged, converged, resetObservedCodes } from './bits';
export { bitPenalty, Penalty, PenaltyOptions, BudgetPenalty } from './penalty';
export {
  MeanBudget, DEFAULT_MAX_BITS, checkMeanBudget, quantizerSizes, weightedMeans, GroupMean, checkBudget, BudgetCheck, allocateBits,
  integerBits, BudgetTracker, BudgetTrackerState, budgeted,
} from './mean-budget';
export { distillLoss, DistillLoss, DISTILL_LOSSES, checkDistillLoss } from './distill';
export { GdnsqObjective, ObjectiveOptions, ObjectiveState, ObjectiveLoss } from './objective';
export { GdnsqLrSchedule, LrScheduleOptions, LrScheduleState, AnnealMode, ANNEAL_MODES } from './lr-schedule';
export { planDescent, plannedBits, plannedRate, layerEnd, convergenceBits, describePlan, DescentPlan, DescentPlanOptions, DescentShape, DESCENT_SHAPES, BudgetError } from './descent-plan';
export { DescentController, defaultGain, T_MIN, T_MAX, DescentControllerOptions, DescentControllerState, DescentMeasure } from './descent-controller';
export { noiseAwareMetric } from './metric';
export { verifyGrid, GridCheck } from './verify';
