import { sdlabProject } from '../vitest.shared.ts';

export default sdlabProject('loadtests');
