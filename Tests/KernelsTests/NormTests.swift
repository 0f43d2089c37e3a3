import XCTest

@testable import Kernels

final class NormTests: XCTestCase {
    func testLayerNormMatchesDefinition() {
        let x: [Float] = [1, 2, 3, 4, 10, -3]
        let w: [Float] = [1, 0.5, 2, 1, 1, 3]
        let b: [Float] = [0, 1, 0, -1, 0, 0.5]
        var out = [Float](repeating: 0, count: 6)
        Norm.layer(x, weight: w, bias: b, eps: 1e-5, count: 6, out: &out)
        let mean = x.reduce(0, +) / 6
        let variance = x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 6
        for i in 0..<6 {
            XCTAssertEqual(out[i], (x[i] - mean) / (variance + 1e-5).squareRoot() * w[i] + b[i], accuracy: 1e-5)
        }
    }

    func testGroupNormNormalisesEachGroupAlone() {
        let x: [Float] = [1, 2, 3, 100, 200, 300]
        var out = [Float](repeating: 0, count: 6)
        let ones = [Float](repeating: 1, count: 6), zeros = [Float](repeating: 0, count: 6)
        Norm.group(x, groups: 2, weight: ones, bias: zeros, eps: 0, count: 6, out: &out)
        XCTAssertEqual(out[0], out[3], accuracy: 1e-5)
        XCTAssertEqual(out[2], out[5], accuracy: 1e-5)
        XCTAssertEqual(out[1], 0, accuracy: 1e-6)
    }

    func testLogSoftmaxSumsToOne() {
        let x: [Float] = [1000, 999, -5, 0]
        var out = [Float](repeating: 0, count: 4)
        Activation.logSoftmax(x, count: 4, out: &out)
        XCTAssertEqual(out.map { exp(Double($0)) }.reduce(0, +), 1, accuracy: 1e-6)
    }
}
