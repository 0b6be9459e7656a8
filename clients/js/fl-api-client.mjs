// Cohort REST API v1 client for JavaScript (seed 003's FLAPIClient), for browsers and Node 18+.
//
// Every method of the seed's JavaScript client (getServerStatus, startTraining,
// getTrainingMetrics, connectWebSocket, handleEvent) plus the rest of /api/v1. A refused call
// throws FLAPIError with the envelope's code (e.g. "RATE_LIMITED"), instead of returning the
// envelope as if it were data.
//
// TLS: the server's certificate comes from the project CA. Browsers must trust rootCA.pem;
// Node trusts it with NODE_EXTRA_CA_CERTS=path/to/rootCA.pem.

export class FLAPIError extends Error {
  constructor(status, error) {
    super(`${error.code}: ${error.message}`);
    this.name = 'FLAPIError';
    this.status = status;
    this.code = error.code;
    this.hint = error.hint || '';
    this.details = error.details || {};
  }
}

export class FLAPIClient {
  constructor(serverUrl = 'http://localhost:8080', apiKey = null, options = {}) {
    this.serverUrl = serverUrl.replace(/\/+$/, '');
    this.baseUrl = `${this.serverUrl}/api/v1`;
    this.apiKey = apiKey;
    this.headers = {
      'Content-Type': 'application/json',
      ...(apiKey && { Authorization: `Bearer ${apiKey}` }),
    };
    this.WebSocketImpl = options.WebSocket || globalThis.WebSocket;
    this.lastRateLimit = {};
  }

  async request(method, path, { body, query } = {}) {
    const url = new URL(`${this.baseUrl}${path}`);
    for (const [key, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
    }
    const response = await fetch(url, {
      method,
      headers: this.headers,
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    this.lastRateLimit = {};
    for (const [key, value] of response.headers) {
      if (key.startsWith('x-ratelimit-')) this.lastRateLimit[key] = value;
    }
    const data = await response.json();
    if (!response.ok) {
      throw new FLAPIError(response.status, data.error || { code: 'INTERNAL_ERROR', message: response.statusText });
    }
    return data;
  }

  // -- the seed's methods ------------------------------------------------------------------
  async getServerStatus() {
    return this.request('GET', '/status');
  }

  async startTraining(experimentConfig) {
    return this.request('POST', '/training/start', { body: experimentConfig });
  }

  async getTrainingMetrics(experimentId) {
    return this.request('GET', '/metrics/training', { query: { experiment_id: experimentId } });
  }

  // WebSocket connection for real-time updates. Browsers cannot set headers on a WebSocket,
  // so the key goes in ?token=.
  connectWebSocket(experimentId = null) {
    const url = new URL(`${this.serverUrl.replace(/^http/, 'ws')}/ws/events`);
    if (this.apiKey) url.searchParams.set('token', this.apiKey);
    if (experimentId) url.searchParams.set('experiment_id', experimentId);
    this.ws = new this.WebSocketImpl(url.toString());
    this.ws.onmessage = (event) => {
      const data = JSON.parse(event.data);
      this.handleEvent(data);
    };
    return this.ws;
  }

  handleEvent(event) {
    switch (event.type) {
      case 'training_progress':
        console.log('Training progress:', event);
        break;
      case 'client_update':
        console.log('Client update:', event);
        break;
      case 'round_completed':
        console.log('Round completed:', event);
        break;
      default:
        break;
    }
  }

  // -- the rest of /api/v1 -----------------------------------------------------------------
  async getHealth() {
    return this.request('GET', '/health');
  }

  async registerClient(clientId, clientConfig = {}, capabilities = {}, location = {}) {
    return this.request('POST', '/clients/register', {
      body: { client_id: clientId, client_config: clientConfig, capabilities, location },
    });
  }

  async getClient(clientId) {
    return this.request('GET', `/clients/${encodeURIComponent(clientId)}`);
  }

  async listClients({ status, round } = {}) {
    return this.request('GET', '/clients', { query: { status, round } });
  }

  async selectClients({ round, policyCheck = true } = {}) {
    return this.request('GET', '/clients/select', { query: { round, policy_check: policyCheck } });
  }

  async stopTraining(experimentId = null, reason = 'manual_stop') {
    return this.request('POST', '/training/stop', {
      body: { ...(experimentId && { experiment_id: experimentId }), reason },
    });
  }

  async getTrainingStatus() {
    return this.request('GET', '/training/status');
  }

  async getGlobalModel({ round, format, experimentId } = {}) {
    return this.request('GET', '/model/global', {
      query: { round, format, experiment_id: experimentId },
    });
  }

  async getClientMetrics(clientId) {
    return this.request('GET', `/metrics/clients/${encodeURIComponent(clientId)}`);
  }

  async createExperiment(config) {
    return this.request('POST', '/experiments', { body: config });
  }

  async listExperiments({ status, limit, offset } = {}) {
    return this.request('GET', '/experiments', { query: { status, limit, offset } });
  }
}
