/**
 * The workflow bundle's entry: every workflow type the worker runs is exported here.
 * Workflow code is pure orchestration (see eslint.config.js): no Node built-ins, no config, no clock.
 */
export { AnimationWorkflow } from './animation/workflow.js';
export { StickerOrderWorkflow } from './sticker-order/workflow.js';
export { CreditPurchaseWorkflow } from './credit-purchase/workflow.js';
export { LatePaymentWorkflow } from './late-payment/workflow.js';
export { OperatorRefundWorkflow, ResendEmailWorkflow } from './operator/workflow.js';
