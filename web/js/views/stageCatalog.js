// stageCatalog.js - what the pipeline editor knows about each stage type,
// trigger type, notification and expected artifact: its fields (key path,
// label, kind, default, help, checks) and the group Deck files it under.
// The editor offers only the stage types the server says it runs
// (GET /stageTypes); a type the server runs but this catalogue does not
// describe is still offered, edited as JSON.
//
// Field spec: {k: 'a.b' path in the object, l: label, t: kind, d: default,
//   h: help, req, min, re: [RegExp, message], opts: [values] or
//   (env) => values, item: [fields] and make() for t: 'objects',
//   when: (obj) => bool (shown only then)}.
// Kinds: text, number, bool, select, textarea, list (comma-separated),
//   argv (one argument per line), kv (NAME=value lines), json, objects.

const accounts = (env) => env.accounts.map((a) => a.name);
const regionsOf = (env, account) => {
  const a = env.accounts.find((x) => x.name === account) || env.accounts[0];
  return a ? (a.regions || []).map((r) => (typeof r === 'string' ? r : r.name)) : [];
};
const allRegions = (env) => [...new Set(env.accounts.flatMap((a) => regionsOf(env, a.name)))];
const firstRegion = (env) => allRegions(env)[0] || 'local';
const firstAccount = (env) => accounts(env)[0] || 'local';

const STACK = [/^[A-Za-z0-9._]*$/, 'letters, digits, dot and underscore only (Frigga)'];
const DETAIL = [/^[A-Za-z0-9._~^-]*$/, 'letters, digits and . _ ~ ^ - only (Frigga)'];
const TARGETS = ['current_asg_dynamic', 'ancestor_asg_dynamic', 'oldest_asg_dynamic'];

// The server group a stage acts on: an account, regions and a cluster,
// with the target resolved when the stage runs (Deck's fields).
const sgTarget = [
  { k: 'credentials', l: 'Account', t: 'select', opts: accounts, d: firstAccount, req: true },
  { k: 'regions', l: 'Regions', t: 'list', d: (env) => [firstRegion(env)], req: true, h: 'comma-separated' },
  { k: 'cluster', l: 'Cluster', t: 'text', req: true, h: 'app-stack-detail, e.g. shop-web' },
  { k: 'target', l: 'Target', t: 'select', opts: TARGETS, d: 'current_asg_dynamic', h: 'resolved by creation time when the stage runs' },
  { k: 'cloudProvider', l: 'Provider', t: 'select', opts: ['local'], d: 'local' },
];

const clusterScope = sgTarget.filter((f) => f.k !== 'target');

const STRATEGIES = ['redblack', 'rollingredblack', 'highlander', 'none'];

export const deployCluster = (env) => [
  { k: 'account', l: 'Account', t: 'select', opts: accounts, d: firstAccount(env), req: true },
  { k: 'region', l: 'Region', t: 'select', opts: (e, c) => regionsOf(e, c.account), d: firstRegion(env), req: true },
  { k: 'stack', l: 'Stack', t: 'text', re: STACK, h: 'cluster name: app-stack-detail' },
  { k: 'freeFormDetails', l: 'Detail', t: 'text', re: DETAIL },
  { k: 'strategy', l: 'Strategy', t: 'select', opts: STRATEGIES, d: 'redblack',
    h: 'redblack: new group, then disable the old; highlander: destroy the old; none: leave them' },
  { k: 'maxRemainingAsgs', l: 'Max remaining server groups', t: 'number', min: 1, when: (c) => /redblack/.test(c.strategy || '') },
  { k: 'delayBeforeDisableSec', l: 'Delay before disable (s)', t: 'number', min: 0, when: (c) => /redblack/.test(c.strategy || '') },
  { k: 'scaleDown', l: 'Scale down replaced server groups', t: 'bool', when: (c) => /redblack/.test(c.strategy || '') },
  { k: 'targetPercentages', l: 'Target percentages', t: 'list', num: true, h: 'e.g. 50, 100', when: (c) => c.strategy === 'rollingredblack' },
  { k: 'capacity.min', l: 'Min', t: 'number', min: 0, d: 1, req: true },
  { k: 'capacity.desired', l: 'Desired', t: 'number', min: 0, d: 1, req: true },
  { k: 'capacity.max', l: 'Max', t: 'number', min: 0, d: 1, req: true },
  { k: 'image', l: 'Image', t: 'text', h: 'image id, or a directory or .tar.gz; empty after a bake: the bake\'s image for the region' },
  { k: 'command', l: 'Command', t: 'argv', h: 'one argument per line, no shell; e.g. python3 then $IMAGE_DIR/app.py' },
  { k: 'env', l: 'Environment', t: 'kv', h: 'NAME=value, one per line; PORT is set for each instance' },
  { k: 'healthCheck.path', l: 'Health check path', t: 'text', d: '/health', re: [/^(\/|\$\{)/, 'a path starting with /'] },
  { k: 'loadBalancers', l: 'Load balancers', t: 'list', h: 'comma-separated names' },
  { k: 'cloudProvider', l: 'Provider', t: 'select', opts: ['local'], d: 'local' },
];

const newCluster = (env, app) => ({
  application: app, account: firstAccount(env), region: firstRegion(env), cloudProvider: 'local', stack: '', freeFormDetails: '',
  strategy: 'redblack', maxRemainingAsgs: 2, capacity: { min: 1, desired: 1, max: 1 }, healthCheck: { path: '/health' },
});

// [type, group, label, description, fields(env) -> specs, extra defaults]
const STAGES = [
  ['wait', 'Core', 'Wait', 'Waits a number of seconds (it can be skipped while it runs).', () => [
    { k: 'waitTime', l: 'Wait time (seconds)', t: 'number', d: 30, min: 0, req: true }]],
  ['manualJudgment', 'Core', 'Manual Judgment', 'Waits for a person to continue or stop the pipeline.', () => [
    { k: 'instructions', l: 'Instructions', t: 'textarea', h: 'shown to the judge' },
    { k: 'judgmentInputs', l: 'Judgment inputs', t: 'list', obj: 'value', h: 'choices offered with Continue, comma-separated' },
    { k: 'propagateAuthenticationContext', l: 'Propagate authentication (later stages run as the judge)', t: 'bool' }]],
  ['evaluateVariables', 'Core', 'Evaluate Variables', 'Evaluates expressions once; later stages read them as ${name}.', () => [
    { k: 'variables', l: 'Variables', t: 'objects', add: 'Add variable', make: () => ({ key: '', value: '' }), item: [
      { k: 'key', l: 'Name', t: 'text', req: true, re: [/^[A-Za-z_][A-Za-z0-9_]*$/, 'a name: letters, digits, underscore'] },
      { k: 'value', l: 'Value', t: 'text', h: 'text or ${expression}' }] }]],
  ['checkPreconditions', 'Core', 'Check Preconditions', 'Fails (or warns) unless each condition holds.', () => [
    { k: 'preconditions', l: 'Preconditions', t: 'objects', add: 'Add precondition',
      make: () => ({ type: 'expression', context: { expression: '' }, failPipeline: true }), item: [
        { k: 'type', l: 'Type', t: 'select', opts: ['expression', 'stageStatus'], d: 'expression' },
        { k: 'context.expression', l: 'Expression', t: 'text', req: true, when: (p) => p.type !== 'stageStatus', h: 'e.g. ${parameters.env == "prod"}' },
        { k: 'context.stageName', l: 'Stage name', t: 'text', req: true, when: (p) => p.type === 'stageStatus' },
        { k: 'context.stageStatus', l: 'Status', t: 'select', opts: ['SUCCEEDED', 'TERMINAL', 'FAILED_CONTINUE', 'CANCELED', 'SKIPPED'], when: (p) => p.type === 'stageStatus' },
        { k: 'failPipeline', l: 'Fail the pipeline', t: 'bool', d: true }] }]],
  ['pipeline', 'Core', 'Pipeline', 'Runs another pipeline and waits for it; its outputs flow back.', (env) => [
    { k: 'application', l: 'Application', t: 'text', d: env.app, req: true },
    { k: 'pipeline', l: 'Pipeline', t: 'select', opts: (e) => e.pipelines.map((p) => p.id), labels: (e) => Object.fromEntries(e.pipelines.map((p) => [p.id, p.name])), req: true, h: 'a pipeline of this application, by id' },
    { k: 'pipelineParameters', l: 'Parameters', t: 'kv', h: 'NAME=value, one per line' },
    { k: 'waitForCompletion', l: 'Wait for results', t: 'bool', d: true }]],
  ['webhook', 'Core', 'Webhook', 'Calls a URL; can wait for a status URL to report completion.', () => [
    { k: 'url', l: 'URL', t: 'text', req: true, re: [/^(https?:\/\/|\$\{)/, 'an http(s):// URL'] },
    { k: 'method', l: 'Method', t: 'select', opts: ['POST', 'GET', 'PUT', 'PATCH', 'DELETE'], d: 'POST' },
    { k: 'customHeaders', l: 'Headers', t: 'kv', h: 'Name=value, one per line' },
    { k: 'payload', l: 'Payload (JSON)', t: 'json' },
    { k: 'failFastStatusCodes', l: 'Fail fast on status codes', t: 'list', num: true },
    { k: 'waitForCompletion', l: 'Wait for completion', t: 'bool' },
    { k: 'statusUrlResolution', l: 'Status URL', t: 'select', opts: ['getMethod', 'locationHeader', 'webhookResponse'], when: (s) => s.waitForCompletion },
    { k: 'statusUrlJsonPath', l: 'Status URL JSON path', t: 'text', when: (s) => s.waitForCompletion && s.statusUrlResolution === 'webhookResponse' },
    { k: 'statusJsonPath', l: 'Status JSON path', t: 'text', when: (s) => s.waitForCompletion, h: 'e.g. $.status' },
    { k: 'successStatuses', l: 'Success statuses', t: 'text', when: (s) => s.waitForCompletion },
    { k: 'terminalStatuses', l: 'Terminal statuses', t: 'text', when: (s) => s.waitForCompletion }]],
  ['jenkins', 'Build', 'Jenkins', 'Starts a Jenkins job and waits for its build.', () => [
    { k: 'master', l: 'Controller', t: 'text', req: true, h: 'a configured Jenkins master' },
    { k: 'job', l: 'Job', t: 'text', req: true },
    { k: 'parameters', l: 'Job parameters', t: 'kv' },
    { k: 'propertyFile', l: 'Property file', t: 'text', h: 'read into the stage outputs' },
    { k: 'markUnstableAsSuccessful', l: 'Mark UNSTABLE as successful', t: 'bool' }]],
  ['runJob', 'Build', 'Run Job', 'Runs a command in a sandbox, optionally in a git checkout; publishes files as artifacts.', (env) => [
    { k: 'account', l: 'Account', t: 'select', opts: accounts, d: firstAccount(env) },
    { k: 'cloudProvider', l: 'Provider', t: 'select', opts: ['local'], d: 'local' },
    { k: 'git.url', l: 'Git URL', t: 'text', h: 'optional: checked out as the workspace' },
    { k: 'git.ref', l: 'Git ref', t: 'text', h: 'branch, tag or ${trigger.hash}' },
    { k: 'command', l: 'Command', t: 'argv', d: [], req: true, h: 'one argument per line, no shell' },
    { k: 'env', l: 'Environment', t: 'kv' },
    { k: 'timeoutSeconds', l: 'Timeout (seconds)', t: 'number', min: 1, d: 600 },
    { k: 'outputArtifacts', l: 'Output artifacts', t: 'objects', add: 'Add artifact', make: () => ({ name: '', path: '' }), item: [
      { k: 'name', l: 'Name', t: 'text', req: true }, { k: 'path', l: 'Path in the workspace', t: 'text', req: true }] },
    { k: 'propertyFile', l: 'Property file', t: 'text', h: 'KEY=VALUE lines merged into the outputs' }]],
  ['bake', 'Images', 'Bake', 'Bakes an immutable image per region from a package; identical inputs reuse the image.', (env) => [
    { k: 'cloudProviderType', l: 'Provider', t: 'select', opts: ['local'], d: 'local' },
    { k: 'package', l: 'Package', t: 'text', req: true, h: 'an artifact name (upstream or in the trigger) or a path under the bakery\'s package roots' },
    { k: 'regions', l: 'Regions', t: 'list', d: [firstRegion(env)], req: true, h: 'one bake per region, in parallel' },
    { k: 'baseImage', l: 'Base image', t: 'text' },
    { k: 'command', l: 'Bake command', t: 'argv', h: 'optional, run with the image writable' },
    { k: 'startCommand', l: 'Start command', t: 'argv' },
    { k: 'healthCheck.path', l: 'Health check path', t: 'text' },
    { k: 'rebake', l: 'Rebake (ignore an identical earlier bake)', t: 'bool' }]],
  ['findImage', 'Images', 'Find Image from Cluster', 'Finds the image a cluster runs, for a later deploy.', () => [
    ...clusterScope,
    { k: 'selectionStrategy', l: 'Selection', t: 'select', opts: ['NEWEST', 'LARGEST', 'OLDEST', 'FAIL'], d: 'NEWEST' },
    { k: 'onlyEnabled', l: 'Only enabled server groups', t: 'bool', d: true }]],
  ['findImageFromCluster', 'Images', 'Find Image from Cluster (alias)', 'Same as Find Image from Cluster.', () => [
    ...clusterScope,
    { k: 'selectionStrategy', l: 'Selection', t: 'select', opts: ['NEWEST', 'LARGEST', 'OLDEST', 'FAIL'], d: 'NEWEST' },
    { k: 'onlyEnabled', l: 'Only enabled server groups', t: 'bool', d: true }]],
  ['findImageFromTags', 'Images', 'Find Image from Tags', 'Finds the newest image of a package with the given tags.', (env) => [
    { k: 'packageName', l: 'Package', t: 'text', req: true },
    { k: 'tags', l: 'Tags', t: 'kv' },
    { k: 'regions', l: 'Regions', t: 'list', d: [firstRegion(env)], req: true },
    { k: 'cloudProviderType', l: 'Provider', t: 'select', opts: ['local'], d: 'local' }]],
  ['upsertImageTags', 'Images', 'Tag Image', 'Tags images: those named, else those upstream stages baked or found.', (env) => [
    { k: 'tags', l: 'Tags', t: 'kv', req: true, h: 'name=value, one per line' },
    { k: 'imageNames', l: 'Images', t: 'list', h: 'image names or ids, comma-separated; empty: the images upstream stages baked or found' },
    { k: 'regions', l: 'Regions', t: 'list', d: [firstRegion(env)] },
    { k: 'cloudProvider', l: 'Provider', t: 'select', opts: ['local'], d: 'local' }]],
  ['deleteImage', 'Images', 'Delete Image', 'Deletes images from the image store (an image a server group runs is refused).', () => [
    { k: 'imageIds', l: 'Image ids', t: 'list', req: true, h: 'comma-separated' },
    { k: 'cloudProvider', l: 'Provider', t: 'select', opts: ['local'], d: 'local' }]],
  ['deploy', 'Deploy', 'Deploy', 'Creates a server group per cluster, then applies its strategy to the older ones.', () => [
    { k: 'clusters', l: 'Clusters', t: 'objects', add: 'Add cluster', cluster: true, item: null, req: true }]],
  ['createServerGroup', 'Server groups', 'Create Server Group', 'Creates one server group (the task behind Deploy).', (env) => deployCluster(env)],
  ['cloneServerGroup', 'Server groups', 'Clone Server Group', 'Copies a server group with changes.', (env) => [
    { k: 'source.serverGroupName', l: 'Source server group', t: 'text', req: true },
    ...deployCluster(env)]],
  ['enableServerGroup', 'Server groups', 'Enable Server Group', 'Puts a server group back in its load balancers.', () => sgTarget],
  ['disableServerGroup', 'Server groups', 'Disable Server Group', 'Takes a server group out of its load balancers.', () => sgTarget],
  ['resizeServerGroup', 'Server groups', 'Resize Server Group', 'Changes a server group\'s capacity.', () => [...sgTarget,
    { k: 'action', l: 'Action', t: 'select', opts: ['scale_exact', 'scale_up', 'scale_down', 'scale_to_cluster'], d: 'scale_exact' },
    { k: 'capacity.min', l: 'Min', t: 'number', min: 0, when: (s) => (s.action || 'scale_exact') === 'scale_exact' },
    { k: 'capacity.desired', l: 'Desired', t: 'number', min: 0, when: (s) => (s.action || 'scale_exact') === 'scale_exact' },
    { k: 'capacity.max', l: 'Max', t: 'number', min: 0, when: (s) => (s.action || 'scale_exact') === 'scale_exact' },
    { k: 'scaleNum', l: 'By instances', t: 'number', min: 0, when: (s) => /scale_(up|down)/.test(s.action || '') },
    { k: 'scalePct', l: 'By percent', t: 'number', min: 0, when: (s) => /scale_(up|down)/.test(s.action || '') }]],
  ['destroyServerGroup', 'Server groups', 'Destroy Server Group', 'Disables, then destroys a server group.', () => sgTarget],
  ['rollbackServerGroup', 'Server groups', 'Rollback Server Group', 'Enables an older server group and disables the newer one.', (env) => [
    { k: 'credentials', l: 'Account', t: 'select', opts: accounts, d: firstAccount(env), req: true },
    { k: 'regions', l: 'Regions', t: 'list', d: [firstRegion(env)], req: true },
    { k: 'cloudProvider', l: 'Provider', t: 'select', opts: ['local'], d: 'local' },
    { k: 'rollbackType', l: 'Rollback type', t: 'select', opts: ['EXPLICIT'], d: 'EXPLICIT' },
    { k: 'rollbackContext.rollbackServerGroupName', l: 'Roll back (server group)', t: 'text', req: true },
    { k: 'rollbackContext.restoreServerGroupName', l: 'Restore (server group)', t: 'text', req: true }]],
  ['terminateInstances', 'Server groups', 'Terminate Instances', 'Terminates instances (their group replaces them).', (env) => [
    { k: 'credentials', l: 'Account', t: 'select', opts: accounts, d: firstAccount(env), req: true },
    { k: 'region', l: 'Region', t: 'text', d: firstRegion(env), req: true },
    { k: 'serverGroupName', l: 'Server group', t: 'text' },
    { k: 'instanceIds', l: 'Instance ids', t: 'list', req: true }]],
  ['disableCluster', 'Clusters', 'Disable Cluster', 'Disables all but the newest enabled server groups of a cluster.', () => [...clusterScope,
    { k: 'remainingEnabledServerGroups', l: 'Keep enabled', t: 'number', min: 0, d: 1 },
    { k: 'preferLargerOverNewer', l: 'Prefer larger over newer', t: 'bool' }]],
  ['scaleDownCluster', 'Clusters', 'Scale Down Cluster', 'Scales to zero all but the newest server groups.', () => [...clusterScope,
    { k: 'remainingFullSizeServerGroups', l: 'Keep full size', t: 'number', min: 0, d: 1 },
    { k: 'allowScaleDownActive', l: 'Allow scaling down active groups', t: 'bool' }]],
  ['shrinkCluster', 'Clusters', 'Shrink Cluster', 'Destroys all but the newest server groups.', () => [...clusterScope,
    { k: 'shrinkToSize', l: 'Shrink to', t: 'number', min: 1, d: 1 },
    { k: 'allowDeleteActive', l: 'Allow deleting active groups', t: 'bool' },
    { k: 'retainLargerOverNewer', l: 'Retain larger over newer', t: 'bool' }]],
  ['rollbackCluster', 'Clusters', 'Rollback Cluster', 'In each region, enables the server group before the newest enabled one and disables the newest.', () => [...clusterScope,
    { k: 'targetHealthyRollbackPercentage', l: 'Healthy before disabling (%)', t: 'number', min: 0, max: 100, d: 100 },
    { k: 'waitTimeBetweenRegions', l: 'Wait between regions (seconds)', t: 'number', min: 0 }]],
  ['upsertLoadBalancer', 'Load balancers', 'Create or Update Load Balancer', 'An HAProxy frontend of the local cloud.', (env) => [
    { k: 'name', l: 'Load balancer name', t: 'text', req: true, re: [/^[A-Za-z0-9-]{1,32}$/, 'letters, digits, hyphen; 32 at most'], h: 'the stage name is its Name above' },
    { k: 'credentials', l: 'Account', t: 'select', opts: accounts, d: firstAccount(env), req: true },
    { k: 'region', l: 'Region', t: 'text', d: firstRegion(env), req: true },
    { k: 'cloudProvider', l: 'Provider', t: 'select', opts: ['local'], d: 'local' },
    { k: 'listeners', l: 'Listeners', t: 'objects', add: 'Add listener', make: () => ({ externalPort: 8080, externalProtocol: 'HTTP' }), item: [
      { k: 'externalPort', l: 'Port', t: 'number', min: 1, req: true }, { k: 'externalProtocol', l: 'Protocol', t: 'select', opts: ['HTTP'], d: 'HTTP' }] },
    { k: 'healthCheck.path', l: 'Health check path', t: 'text', d: '/health' }]],
  ['deleteLoadBalancer', 'Load balancers', 'Delete Load Balancer', 'Removes an HAProxy frontend.', (env) => [
    { k: 'loadBalancerName', l: 'Load balancer', t: 'text', req: true },
    { k: 'credentials', l: 'Account', t: 'select', opts: accounts, d: firstAccount(env), req: true },
    { k: 'region', l: 'Region', t: 'text', d: firstRegion(env), req: true },
    { k: 'cloudProvider', l: 'Provider', t: 'select', opts: ['local'], d: 'local' }]],
  ['upsertLoadBalancers', 'Load balancers', 'Create or Update Load Balancers', 'Several HAProxy frontends at once, each with the stage\'s account and region.', (env) => [
    { k: 'credentials', l: 'Account', t: 'select', opts: accounts, d: firstAccount(env), req: true },
    { k: 'region', l: 'Region', t: 'text', d: firstRegion(env), req: true },
    { k: 'cloudProvider', l: 'Provider', t: 'select', opts: ['local'], d: 'local' },
    { k: 'loadBalancers', l: 'Load balancers', t: 'objects', add: 'Add load balancer', req: true,
      make: () => ({ name: '', listeners: [{ externalPort: 8080, externalProtocol: 'HTTP' }], healthCheck: { path: '/health' } }), item: [
        { k: 'name', l: 'Name', t: 'text', req: true, re: [/^[A-Za-z0-9-]{1,32}$/, 'letters, digits, hyphen; 32 at most'] },
        { k: 'listeners', l: 'Listeners', t: 'objects', add: 'Add listener', make: () => ({ externalPort: 8080, externalProtocol: 'HTTP' }), item: [
          { k: 'externalPort', l: 'Port', t: 'number', min: 1, req: true }, { k: 'externalProtocol', l: 'Protocol', t: 'select', opts: ['HTTP'], d: 'HTTP' }] },
        { k: 'healthCheck.path', l: 'Health check path', t: 'text' }] }]],
  ['findArtifactFromExecution', 'Other', 'Find Artifact From Execution', 'Binds artifacts of another pipeline\'s newest matching execution, for later stages.', (env) => [
    { k: 'application', l: 'Application', t: 'text', d: env.app, req: true },
    { k: 'pipeline', l: 'Pipeline', t: 'select', opts: (e) => e.pipelines.map((p) => p.id), labels: (e) => Object.fromEntries(e.pipelines.map((p) => [p.id, p.name])), req: true, h: 'a pipeline of this application, by id' },
    { k: 'executionOptions.successful', l: 'From a SUCCEEDED execution', t: 'bool', d: true },
    { k: 'executionOptions.terminal', l: 'From a TERMINAL execution', t: 'bool' },
    { k: 'executionOptions.running', l: 'From a RUNNING execution', t: 'bool' },
    { k: 'expectedArtifacts', l: 'Artifacts', t: 'objects', add: 'Add artifact', req: true,
      make: () => ({ id: crypto.randomUUID ? crypto.randomUUID() : String(Date.now()), displayName: '', matchArtifact: { type: 'mizzen/file', name: '' } }), item: [
        { k: 'displayName', l: 'Display name', t: 'text', req: true },
        { k: 'matchArtifact.type', l: 'Artifact type', t: 'select', opts: ['git/repo', 'mizzen/file', 'embedded/base64', 'http/file', 'docker/image'], d: 'mizzen/file' },
        { k: 'matchArtifact.name', l: 'Name matches', t: 'text', h: 'a regular expression matching the whole name' }] }]],
  ['savePipelinesFromArtifact', 'Other', 'Save Pipelines', 'Saves the pipeline configs an artifact holds ({"application": [config, ...]}), created or updated by name.', () => [
    { k: 'pipelinesArtifactId', l: 'Artifact (expected artifact id)', t: 'text', req: true, h: 'the id of one of this pipeline\'s expected artifacts, or one bound upstream' }]],
];

// Engine-internal types: synthetic steps and orchestrations (Gate's and
// Deck's own: applications, projects, a pipeline's save), never a
// stage a person adds to a pipeline.
const INTERNAL = new Set(['restrictExecutionDuringTimeWindow', 'createApplication', 'updateApplication', 'deleteApplication', 'upsertProject', 'deleteProject', 'savePipeline']);
export const GROUPS = ['Core', 'Build', 'Images', 'Deploy', 'Server groups', 'Clusters', 'Load balancers', 'Other'];

const BY_TYPE = new Map(STAGES.map(([type, group, label, desc, fields]) => [type, { type, group, label, desc, fields }]));

// The stage types to offer: those the server runs, described or not.
export function offered(serverTypes) {
  return serverTypes.filter((t) => !INTERNAL.has(t)).map((t) => BY_TYPE.get(t) || { type: t, group: 'Other', label: t, desc: 'No form for this type yet: edit its fields as JSON.', fields: null });
}

export function describe(type) { return BY_TYPE.get(type) || null; }

export function stageFields(type, env) {
  const d = BY_TYPE.get(type);
  if (!d) return null;
  return d.fields(env).map((f) => (f.cluster ? { ...f, item: deployCluster(env), make: () => newCluster(env, env.app) } : f));
}

const val = (d, env) => (typeof d === 'function' ? d(env) : d);

// A fresh object with every field's default (nested paths built).
export function defaults(fields, env) {
  const o = {};
  for (const f of fields || []) {
    if (f.d === undefined) continue;
    setIn(o, f.k, structuredClone(val(f.d, env)));
  }
  return o;
}

export function newStage(type, env, core) {
  const d = BY_TYPE.get(type);
  const fields = stageFields(type, env);
  const s = { ...core, type, name: core.name || (d ? d.label : type), ...defaults(fields, env) };
  if (type === 'deploy') s.clusters = [newCluster(env, env.app)];
  return s;
}

export function getIn(o, path) {
  let v = o;
  for (const k of path.split('.')) { if (v == null || typeof v !== 'object') return undefined; v = v[k]; }
  return v;
}

export function setIn(o, path, value) {
  const keys = path.split('.');
  let x = o;
  for (const k of keys.slice(0, -1)) {
    if (x[k] == null || typeof x[k] !== 'object') x[k] = /^\d+$/.test(k) ? [] : {};
    x = x[k];
  }
  const last = keys[keys.length - 1];
  if (value === undefined) { if (Array.isArray(x)) x.splice(Number(last), 1); else delete x[last]; } else x[last] = value;
}

// ---- triggers, notifications, expected artifacts ----------------------

export const TRIGGERS = {
  git: [{ k: 'source', l: 'Source', t: 'select', opts: ['git', 'github', 'gitlab', 'bitbucket'], d: 'git', h: 'git: any URL, polled; the others: their webhooks' },
    { k: 'url', l: 'Repository URL', t: 'text', req: true, when: (t) => (t.source || 'git') === 'git' },
    { k: 'project', l: 'Project / organisation', t: 'text', req: true, when: (t) => t.source && t.source !== 'git' },
    { k: 'slug', l: 'Repository (slug)', t: 'text', req: true, when: (t) => t.source && t.source !== 'git' },
    { k: 'branch', l: 'Branch', t: 'text', d: 'main', h: 'a name or a regular expression' },
    { k: 'secret', l: 'Webhook secret', t: 'text', when: (t) => t.source && t.source !== 'git', h: 'write-only: stored, never shown back' }],
  webhook: [{ k: 'source', l: 'Source', t: 'text', req: true, h: 'POST /webhooks/webhook/{source} starts it' },
    { k: 'payloadConstraints', l: 'Payload constraints', t: 'kv', h: 'field=regular expression, one per line' }],
  cron: [{ k: 'cronExpression', l: 'Cron expression', t: 'text', req: true, d: '0 0 * * * ?', h: 'Quartz: seconds minutes hours day-of-month month day-of-week [year]',
    re: [/^\s*\S+(\s+\S+){5,6}\s*$/, '6 or 7 fields (Quartz): s m h dom mon dow [year]'] }],
  pipeline: [{ k: 'application', l: 'Application', t: 'text', req: true },
    { k: 'pipeline', l: 'Pipeline id', t: 'text', req: true },
    { k: 'status', l: 'When it', t: 'list', d: ['successful'], h: 'successful, failed, canceled' }],
  docker: [{ k: 'account', l: 'Registry account', t: 'text', req: true }, { k: 'registry', l: 'Registry', t: 'text' },
    { k: 'repository', l: 'Repository', t: 'text', req: true }, { k: 'tag', l: 'Tag', t: 'text', h: 'regular expression; empty: any' }],
  jenkins: [{ k: 'master', l: 'Controller', t: 'text', req: true }, { k: 'job', l: 'Job', t: 'text', req: true },
    { k: 'propertyFile', l: 'Property file', t: 'text' }],
};
export const TRIGGER_COMMON = [
  { k: 'enabled', l: 'Enabled', t: 'bool', d: true },
  { k: 'runAsUser', l: 'Run as user', t: 'text', h: 'a user with EXECUTE on the application; empty: whoever saved the pipeline' },
];

export function newTrigger(type, env) {
  return { type, ...defaults(TRIGGER_COMMON, env), ...defaults(TRIGGERS[type], env) };
}

export const PARAMETER = [
  { k: 'name', l: 'Name', t: 'text', req: true, re: [/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'letters, digits, _ . -'] },
  { k: 'label', l: 'Label', t: 'text' },
  { k: 'default', l: 'Default', t: 'text' },
  { k: 'description', l: 'Description', t: 'text' },
  { k: 'options', l: 'Options', t: 'list', obj: 'value', h: 'comma-separated; empty: free text' },
  { k: 'required', l: 'Required', t: 'bool' },
  { k: 'pinned', l: 'Pinned', t: 'bool' },
];

export const NOTIFICATION = [
  { k: 'type', l: 'Type', t: 'select', opts: ['email', 'slack', 'webhook'], d: 'email' },
  { k: 'address', l: 'Address', t: 'text', req: true, h: 'an email address, a Slack channel or a URL' },
  { k: 'when', l: 'When', t: 'checks', opts: ['pipeline.starting', 'pipeline.complete', 'pipeline.failed'], d: ['pipeline.failed'] },
];

export const ARTIFACT = [
  { k: 'displayName', l: 'Display name', t: 'text', req: true },
  { k: 'matchArtifact.type', l: 'Artifact type', t: 'select', opts: ['git/repo', 'mizzen/file', 'embedded/base64', 'http/file', 'docker/image'], d: 'mizzen/file' },
  { k: 'matchArtifact.name', l: 'Name matches', t: 'text', h: 'a regular expression matching the whole name' },
  { k: 'matchArtifact.reference', l: 'Reference matches', t: 'text' },
  { k: 'usePriorArtifact', l: 'Use the prior execution\'s artifact', t: 'bool' },
  { k: 'useDefaultArtifact', l: 'Use a default artifact', t: 'bool' },
  { k: 'defaultArtifact.type', l: 'Default type', t: 'text', when: (a) => a.useDefaultArtifact },
  { k: 'defaultArtifact.reference', l: 'Default reference', t: 'text', req: true, when: (a) => a.useDefaultArtifact },
];

export const optionsOf = (f, env, obj) => (typeof f.opts === 'function' ? f.opts(env, obj || {}) : f.opts || []);
