// Runs against a live Cohort server: COHORT_REST_URL, COHORT_API_KEY, and
// NODE_EXTRA_CA_CERTS (the project's rootCA.pem). Started by tests/rest/test_rest_api.py.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { FLAPIClient, FLAPIError } from '../fl-api-client.mjs';

const url = process.env.COHORT_REST_URL;
const key = process.env.COHORT_API_KEY;

test('server status and health have the seed shape', async () => {
  const client = new FLAPIClient(url, key);
  const status = await client.getServerStatus();
  for (const field of ['status', 'version', 'active_clients', 'registered_clients', 'model_config', 'training_config', 'timestamp']) {
    assert.ok(field in status, field);
  }
  assert.equal(client.lastRateLimit['x-ratelimit-limit'], '100');
  assert.equal((await client.getHealth()).status, 'healthy');
});

test('register a client and read it back', async () => {
  const client = new FLAPIClient(url, key);
  const reply = await client.registerClient('js-client', { batch_size: 16 });
  assert.equal(reply.status, 'registered');
  assert.equal((await client.getClient('js-client')).status, 'registered');
  const listed = await client.listClients({ status: 'registered' });
  assert.ok(listed.clients.some((c) => c.client_id === 'js-client'));
});

test('create and list an experiment', async () => {
  const client = new FLAPIClient(url, key);
  const created = await client.createExperiment({ name: 'from js', dataset_config: { name: 'iris' } });
  assert.equal(created.status, 'created');
  const listed = await client.listExperiments({ status: 'created', limit: 100 });
  assert.ok(listed.experiments.some((e) => e.experiment_id === created.experiment_id));
});

test('errors throw FLAPIError with the envelope code', async () => {
  const client = new FLAPIClient(url, key);
  await assert.rejects(client.createExperiment({ name: 'x', dataset_config: { name: 'CIFAR-10' } }),
    (err) => err instanceof FLAPIError && err.status === 400 && err.code === 'INVALID_REQUEST');
  await assert.rejects(client.getClient('nobody-here'),
    (err) => err.status === 404 && err.code === 'CLIENT_NOT_REGISTERED');
  await assert.rejects(new FLAPIClient(url, null).getServerStatus(),
    (err) => err.status === 401 && err.code === 'UNAUTHORIZED');
});
