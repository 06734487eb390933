/**
 * The failure converter used when the payload codec is on: failure messages
 * and stack traces move from the failure's plain-text fields into its
 * `encodedAttributes` payload, which the codec encrypts (the plain `message`
 * becomes "Encoded failure"). Loaded by path: by the workflow bundle
 * (`bundleWorkflowCode({ failureConverterPath })`), the worker and the client
 * (`dataConverter.failureConverterPath`). Imports nothing but
 * `@temporalio/common`, as the workflow sandbox requires.
 *
 * @module
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
