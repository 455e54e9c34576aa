import { createResource, createSignal, type Resource } from 'solid-js';

/**
 * A user-triggered async operation (sign in, rename, delete) tracked by a resource, so that
 * `loading` and `error` come from Solid rather than hand-kept flags. Every call of the returned
 * function starts a new attempt, even with the same input. Read `.loading` and `.error` in JSX,
 * not the resource itself, which would suspend the nearest <Suspense>.
 */
export function createAction<Input, Output>(
  perform: (input: Input) => Promise<Output>,
): [Resource<Output | undefined>, (input: Input) => void] {
  const [submission, setSubmission] = createSignal<{ input: Input }>();
  const [result] = createResource(submission, (current) => perform(current.input));
  return [result, (input) => setSubmission({ input })];
}
