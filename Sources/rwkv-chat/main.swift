import RWKV
import Foundation
let m = try Model.load(path: CommandLine.arguments[1])
print(m.config)
var st = m.initialState()
let toks: [Int] = CommandLine.arguments.count > 3 ? CommandLine.arguments[3].split(separator: ",").map { Int($0)! } : [0, 85, 115, 101, 114, 58, 32, 104, 105, 10, 10, 65, 115, 115, 105, 115, 116, 97, 110, 116, 58, 255, 128, 32]
var all: [Float] = []
for t in toks { all += try m.step(t, state: &st) }
let ref = try Data(contentsOf: URL(fileURLWithPath: CommandLine.arguments[2]))
let r = ref.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
var md: Float = 0
for i in 0..<r.count { md = max(md, abs(r[i] - all[i])) }
print("max diff", md)
