// The control as an ES module. Its code is blink-control.classic.js, the one source for both
// forms, which sets window.Basiq and window.BlinkError when it runs; they are exported from there.
import "./blink-control.classic.js";

const { Basiq, BlinkError } = window;

export { Basiq, BlinkError };
export default Basiq;
