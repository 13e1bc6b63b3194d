export { Optimizer, GroupHyper, ParamGroup, ParamGroupSpec, Params, ParamState, OptimizerMeta, OptimizerStateDict } from './optimizer';
export { SGD, SGDHyper, SGDOptions } from './sgd';
export { Adam, AdamHyper, AdamOptions } from './adam';
export { AdamW } from './adamw';
export { RAdam, RAdamHyper, RAdamOptions, radamRectification } from './radam';
export { Schedule, OneCycleOptions } from './schedule';
export * as schedules from './schedule';
export { LRScheduler, LRSchedulerState, HasParamGroups } from './scheduler';
