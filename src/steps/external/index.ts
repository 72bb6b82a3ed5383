import { stepGroup } from '../types.js';
import { lowerTtl, restoreTtl, revertDns, switchDns } from './dns-steps.js';
import { emailStep } from './email-steps.js';
import { waitForLowTtl, waitForNewValues } from './propagation-steps.js';
import { captureBaseline, checkHealth, checkMonitoring, checkPublicNames, smokeTest, testWebhook } from './probe-steps.js';

/** The steps that act on systems outside the databases: DNS, email, HTTP checks. Ids as in DESIGN §1. */
export const externalSteps = stepGroup({
  'prep.lower-ttl': lowerTtl,
  'prep.advance-notice': emailStep('advance-notice'),
  'final.health': checkHealth,
  'final.ttl-propagated': waitForLowTtl,
  'final.baseline': captureBaseline,
  'final.reminder': emailStep('reminder-24h'),
  'window.maintenance-notice': emailStep('maintenance-starting'),
  'deploy.smoke': smokeTest,
  // The engine asks for the typed zone name before this runs; the action only acts.
  'dns.switch': switchDns,
  'dns.propagation': waitForNewValues,
  'dns.external-check': checkPublicNames,
  'validate.monitoring': checkMonitoring,
  'validate.webhook': testWebhook,
  'validate.complete-notice': emailStep('maintenance-complete'),
  'review.survey': emailStep('survey'),
  'close.restore-ttl': restoreTtl,
  'rollback.dns-revert': revertDns,
  // The revert puts back the records as they were at the switch, at the lowered cutover TTL.
  'rollback.restore-ttl': restoreTtl,
  'rollback.notice': emailStep('rollback-notice'),
  'abort.restore-ttl': restoreTtl,
  // The runbook sends the rollback notice's "called off" variant when the window is aborted.
  'abort.notice': emailStep('rollback-notice', () => ({ cancelled: true })),
});

export { previewNotice } from './preview.js';
