// SPDX-License-Identifier: Apache-2.0
// board/js/routes.js: the route table: which page renders which path. The one module that knows the pages.
import * as login from './pages/login.js';
import * as home from './pages/home.js';
import * as stage from './pages/stage.js';
import * as history from './pages/history.js';
import * as builds from './pages/builds.js';
import * as hosts from './pages/hosts.js';
import * as config from './pages/config.js';
import * as tokens from './pages/tokens.js';
import * as roles from './pages/roles.js';
import * as hostLog from './pages/host-log.js';
import * as deploy from './pages/deploy.js';

const route = (path, page, nav, params = [], extra = {}) => ({ path, page, nav, params, ...extra });

export const routes = [
  route(/^\/login\/?$/, login, null, [], { public: true }),
  route(/^\/$/, home, 'home'),
  route(/^\/deploys\/?$/, history, 'deploys'),
  route(/^\/deploys\/([^/]+)\/?$/, deploy, 'deploys', ['id']),
  route(/^\/builds\/?$/, builds, 'builds'),
  route(/^\/builds\/([^/]+)\/?$/, builds, 'builds', ['name']),
  route(/^\/tokens\/?$/, tokens, 'tokens'),
  route(/^\/(users|groups)\/?$/, roles, 'tokens', ['kind']),
  route(/^\/hosts\/?$/, hosts, 'hosts'),
  route(/^\/hosts\/([^/]+)\/?$/, hosts, 'hosts', ['host']),
  route(/^\/env\/([^/]+)\/?$/, stage, 'home', ['env']),
  route(/^\/env\/([^/]+)\/([^/]+)\/?$/, stage, 'home', ['env', 'stage']),
  route(/^\/env\/([^/]+)\/([^/]+)\/history\/?$/, history, 'home', ['env', 'stage']),
  route(/^\/env\/([^/]+)\/([^/]+)\/config\/?$/, config, 'home', ['env', 'stage']),
  route(/^\/env\/([^/]+)\/([^/]+)\/log\/([^/]+)\/?$/, hostLog, 'home', ['env', 'stage', 'host']),
];
