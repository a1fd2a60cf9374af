// The flow table's public surface.
export { FlowTable, FlowTableOptions, FlowCounters, flowDefaults } from './flowTable';
export { FlowEnd, FlowEndReason, FlowAnonymizer, formatFlow } from './flowEnd';
