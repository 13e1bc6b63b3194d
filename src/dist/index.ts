// Data-parallel training over libtorch's c10d: process group, launcher, sharded sampling.
export * from './process-group';
