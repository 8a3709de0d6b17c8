// Pulumi program entry: builds the platform for the selected stack (pulumi.getStack()).
import { runStack } from "./stack";

export = () => runStack();
