// The console's JSON API. Every call rejects with an Error carrying the
// server's {"error": "..."} message.

async function call(method, path, body) {
  const opts = {method, headers: {Accept: 'application/json'}};
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch('api/' + path, opts);
  } catch (e) {
    throw new Error('The console server did not answer: ' + e.message);
  }
  let data = null;
  try { data = await resp.json(); } catch (e) { /* not JSON */ }
  if (!resp.ok) {
    throw new Error((data && data.error) || `${resp.status} ${resp.statusText}`);
  }
  return data;
}

const enc = encodeURIComponent;

export const api = {
  cluster: () => call('GET', 'cluster'),
  topics: () => call('GET', 'topics'),
  topic: (name) => call('GET', 'topics/' + enc(name)),
  createTopic: (req) => call('POST', 'topics', req),
  deleteTopic: (name) => call('DELETE', `topics/${enc(name)}?confirm=${enc(name)}`),
  alterConfigs: (name, req) => call('PATCH', `topics/${enc(name)}/configs`, req),
  messages: (name, params) => call('GET', `topics/${enc(name)}/messages?` + new URLSearchParams(params)),
  groups: () => call('GET', 'groups'),
  group: (id) => call('GET', 'groups/' + enc(id)),
  resetOffsets: (id, req) => call('POST', `groups/${enc(id)}/reset`, req),
  throughput: () => call('GET', 'throughput'),
};
