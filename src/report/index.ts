export * from './run';
export * from './plots';
export * from './markdown';
export * from './write-report';
export * from './descent';
export * from './bottlenecks';
