// Data-parallel training over libtorch's c10d: process group, launcher, sharded sampling.
export * from './process-group';
export * from './data-parallel';
export * from './sharded-loader';
export * from './env';
export * from './launch';
