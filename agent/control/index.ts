export { CTL_EXIT_CODES, CTL_USAGE, type CtlIo, runCtlCli } from '../cli/ctl.js';
export { type SendControlCommandOptions, sendControlCommand } from './control-client.js';
export { ControlServer, type ControlServerOptions } from './control-server.js';
export {
  CONTROL_SOCKET_FIELD_PATH,
  ControlClientError,
  type ControlClientErrorCode,
  ControlSocketError,
  ControlSocketInUseError,
} from './errors.js';
export {
  CONTROL_COMMAND_NAMES,
  type ControlErrorResponse,
  type ControlResponse,
  type ControlResponseFor,
  type CurrentStateResponse,
  type HealthResponse,
  MAX_REQUEST_LINE_BYTES,
} from './protocol.js';
