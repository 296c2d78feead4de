// The call page's screen states and the moves between them. Nothing here touches the DOM or the
// network: app.js decides when to move, view.js shows the state it is in.
//
// A state comes with a reason where one state has several texts: error (unauthorized, disabled,
// notFound, invalidLink, network, unexpected), ended (ended, expired, byYou, left, replaced),
// waiting (joining: the socket is not ready yet; peer: the other person is absent).

export const LOADING = "loading"; // the join API is asked
export const PREJOIN = "prejoin"; // preview, or one click to join
export const WAITING = "waiting"; // joined; the other person is not there (yet)
export const IN_CALL = "in-call"; // both are there
export const RECONNECTING = "reconnecting"; // the signaling socket dropped; media goes on
export const ENDED = "ended"; // over: camera and microphone are off
export const ERROR = "error"; // the join API refused, or could not be reached

const MOVES = {
  [LOADING]: [PREJOIN, WAITING, ENDED, ERROR],
  [PREJOIN]: [PREJOIN, WAITING, ENDED, ERROR],
  [WAITING]: [WAITING, IN_CALL, RECONNECTING, ENDED, ERROR],
  [IN_CALL]: [IN_CALL, WAITING, RECONNECTING, ENDED, ERROR],
  [RECONNECTING]: [RECONNECTING, WAITING, IN_CALL, ENDED, ERROR],
  [ENDED]: [LOADING],
  [ERROR]: [LOADING],
};

/** Where the page stands. `onChange(state, detail, previous)` runs after every move. */
export class CallState {
  constructor(onChange) {
    this.state = LOADING;
    this.detail = {};
    this.onChange = onChange;
  }

  can(next) {
    return MOVES[this.state].includes(next);
  }

  /** Move to `next`; a move the table does not list is refused (false) and changes nothing. */
  go(next, detail = {}) {
    if (!this.can(next)) {
      console.warn(`call page: no move from ${this.state} to ${next}`);
      return false;
    }
    const previous = this.state;
    this.state = next;
    this.detail = detail;
    this.onChange(next, detail, previous);
    return true;
  }

  /** True while the page holds a call it has joined (its media and socket are live). */
  get joined() {
    return this.state === WAITING || this.state === IN_CALL || this.state === RECONNECTING;
  }

  get over() {
    return this.state === ENDED || this.state === ERROR;
  }
}
