/** The supervisor's control socket: the server the supervisor runs and the client `ctl` uses. */
export { sendControlCommand } from './control-client.js';
export { ControlServer } from './control-server.js';
export { ControlClientError, ControlSocketError, ControlSocketInUseError } from './errors.js';
