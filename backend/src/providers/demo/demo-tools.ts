// The demo provider's tool calling: which call a "model" asks for, and how it words the results.
// Scripted, so the app shows tools working with no API key and tests can predict every call.

type JsonObject = Record<string, unknown>;

export interface DemoFunctionCall {
  name: string;
  args: JsonObject;
}

export interface DemoFunctionResult {
  name: string;
  response: JsonObject;
}

const HAN = /\p{Script=Han}/u;
const DICE = /\b(\d{0,3}d\d{1,4}(?:\s*[+-]\s*\d{1,5})?)\b/i;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The tools a request declares (`tools[].functionDeclarations[].name`), and whether it forbids calls. */
export function declaredTools(body: JsonObject): { names: string[]; forbidden: boolean } {
  const names: string[] = [];
  for (const tool of Array.isArray(body.tools) ? body.tools : []) {
    if (!isObject(tool) || !Array.isArray(tool.functionDeclarations)) continue;
    for (const declaration of tool.functionDeclarations) {
      if (isObject(declaration) && typeof declaration.name === 'string') names.push(declaration.name);
    }
  }
  const config = isObject(body.toolConfig) ? body.toolConfig.functionCallingConfig : undefined;
  return { names, forbidden: isObject(config) && config.mode === 'NONE' };
}

/** The function responses in the request's last turn (the results of the calls the model asked for). */
export function lastFunctionResults(contents: unknown[]): DemoFunctionResult[] {
  const last = contents.at(-1);
  if (!isObject(last) || !Array.isArray(last.parts)) return [];
  return last.parts
    .map((part) => (isObject(part) && isObject(part.functionResponse) ? part.functionResponse : undefined))
    .filter((r): r is JsonObject => r !== undefined)
    .map((r) => ({ name: typeof r.name === 'string' ? r.name : '', response: isObject(r.response) ? r.response : {} }));
}

/** The call the user's words ask for, when the tool is offered: dice, the time, remembering, recalling. */
export function scriptedCalls(userText: string, offered: readonly string[]): DemoFunctionCall[] {
  const text = userText.toLowerCase();
  const wants = (name: string) => offered.includes(name);
  if (wants('roll_dice') && /\b(roll|dice|die)\b|骰/.test(text)) {
    return [{ name: 'roll_dice', args: { notation: DICE.exec(userText)?.[1]?.replace(/\s+/g, '') ?? '1d20' } }];
  }
  if (wants('remember') && /\bremember\b|记住/.test(text)) {
    const content =
      /remember(?: that)?[:,]?\s*(.+)$/i.exec(userText)?.[1] ?? /记住[:：，,]?\s*(.+)$/.exec(userText)?.[1];
    if (content?.trim()) return [{ name: 'remember', args: { content: content.trim().slice(0, 500) } }];
  }
  if (wants('recall') && /\b(recall|what do you remember)\b|还记得/.test(text)) return [{ name: 'recall', args: {} }];
  if (wants('current_time') && /\bwhat time\b|\btime is it\b|几点/.test(text)) {
    return [{ name: 'current_time', args: { timeZone: 'UTC' } }];
  }
  return [];
}

/** The reply after the tools answered: each result put into words. */
export function replyToResults(results: DemoFunctionResult[], userText: string): string {
  const chinese = HAN.test(userText);
  return results.map((r) => sentence(r, chinese)).join(chinese ? '' : ' ');
}

function sentence({ name, response }: DemoFunctionResult, chinese: boolean): string {
  const error = isObject(response.error) ? response.error : undefined;
  if (error) {
    const message = typeof error.message === 'string' ? error.message : 'it failed';
    return chinese ? `我试着用 ${name}，但没有成功：${message}。` : `I tried ${name}, but it did not work: ${message}.`;
  }
  const result = isObject(response.result) ? response.result : {};
  switch (name) {
    case 'roll_dice': {
      const rolls = Array.isArray(result.rolls) ? result.rolls.join(' + ') : '?';
      const modifier =
        typeof result.modifier === 'number' && result.modifier !== 0
          ? ` (${result.modifier > 0 ? '+' : ''}${result.modifier})`
          : '';
      return chinese
        ? `骰子落定：${String(result.notation)} → ${rolls}${modifier}，共 ${String(result.total)} 点。`
        : `The dice are cast: ${String(result.notation)} → ${rolls}${modifier}, a total of ${String(result.total)}.`;
    }
    case 'current_time':
      return chinese
        ? `现在是${String(result.timeZone)}时间 ${String(result.local)}。`
        : `It is ${String(result.local)} in ${String(result.timeZone)}.`;
    case 'remember':
      return chinese
        ? `我记下了：${String(result.remembered)}。`
        : `I will remember that: ${String(result.remembered)}.`;
    case 'recall': {
      const entries = Array.isArray(result.entries) ? result.entries.map(String) : [];
      if (entries.length === 0) return chinese ? '我还什么都没记下。' : 'I have not written anything down yet.';
      return chinese ? `我记得：${entries.join('；')}。` : `Here is what I remember: ${entries.join('; ')}.`;
    }
    default:
      return chinese
        ? `${name} 的结果是 ${JSON.stringify(response.result ?? null).slice(0, 200)}。`
        : `${name} gave me ${JSON.stringify(response.result ?? null).slice(0, 200)}.`;
  }
}
