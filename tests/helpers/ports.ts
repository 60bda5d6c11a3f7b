export { freeBasePort } from "../../lib/ports";
