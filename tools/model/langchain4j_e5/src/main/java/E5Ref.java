import com.google.gson.*;
import dev.langchain4j.model.embedding.onnx.e5smallv2q.E5SmallV2QuantizedEmbeddingModel;
import dev.langchain4j.data.embedding.Embedding;
import java.nio.file.*;
import java.util.*;

public class E5Ref {
  public static void main(String[] args) throws Exception {
    JsonObject data = JsonParser.parseString(Files.readString(Path.of(args[0]))).getAsJsonObject();
    E5SmallV2QuantizedEmbeddingModel model = new E5SmallV2QuantizedEmbeddingModel();
    JsonArray out = new JsonArray();
    for (JsonElement e : data.getAsJsonArray("items")) {
      JsonObject item = e.getAsJsonObject();
      String prefix = item.get("kind").getAsString().equals("query") ? "query: " : "passage: ";
      Embedding emb = model.embed(prefix + item.get("text").getAsString()).content();
      JsonArray v = new JsonArray();
      for (float f : emb.vector()) v.add(f);
      out.add(v);
    }
    Files.writeString(Path.of(args[1]), out.toString());
  }
}
